import t from 'tap'
import { runWithContext } from '../../../src/context.ts'
import { fullJitterDelay, jitterBackoffStrategy, type RetryPolicy } from '../../../src/platform/jobs/backoff.ts'
import { once } from '../../../src/platform/jobs/once.ts'
import { enqueue } from '../../../src/platform/jobs/outbox.ts'
import type { JobPayload } from '../../../src/platform/jobs/job-data.ts'
import { JobRegistry } from '../../../src/platform/jobs/registry.ts'
import { createTestDatabase } from '../../helpers/database.ts'
import { asOwner, serviceDatabase, startTestWorker } from '../../helpers/jobs.ts'
import { waitFor } from '../../helpers/wait.ts'

/** A deterministic random source in [0, 1) (mulberry32). */
function seeded (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = Math.imul(state ^ (state >>> 15), 1 | state)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296
  }
}

// all setup that awaits comes before the first t.test: tap may end a file whose setup awaits after one
const db = await createTestDatabase()
t.teardown(() => db.drop())
await asOwner(db, `
  create table balances (account text primary key, amount integer not null);
  grant select, insert, update on balances to atrium_runtime;
  insert into balances values ('acc-1', 100);`)
const { sql, database } = serviceDatabase(t, db)

const runs = new Map<string, number[]>()
function recordRun (name: string, attempt: number): void {
  runs.set(name, [...runs.get(name) ?? [], attempt])
}

const fastRetry: Partial<RetryPolicy> = { baseDelayMs: 20, maxDelayMs: 100 }
const registry = new JobRegistry()
  .register<{ marker: string }>({
    queue: 'maintenance',
    name: 'test.flaky',
    retry: { ...fastRetry, attempts: 4 },
    async handler (payload, job) {
      recordRun(payload.marker, job.attempt)
      if (job.attempt <= 2) throw new Error(`transient failure ${job.attempt}`)
    }
  })
  .register<{ marker: string }>({
    queue: 'maintenance',
    name: 'test.doomed',
    retry: { ...fastRetry, attempts: 2 },
    async handler (payload, job) {
      recordRun(payload.marker, job.attempt)
      throw new Error('permanent failure')
    }
  })
  .register<{ account: string, amount: number, transfer: string }>({
    queue: 'billing',
    name: 'test.credit',
    async handler (payload, job) {
      recordRun(payload.transfer, job.attempt)
      await job.db.transaction(null, async tx => {
        if (!await once(tx, `credit:${payload.transfer}`)) return
        await tx`update balances set amount = amount + ${payload.amount} where account = ${payload.account}`
      })
    }
  })
const { worker, queues, logs } = await startTestWorker(t, db, registry)

async function enqueueJob (queue: 'maintenance' | 'billing', name: string, payload: JobPayload): Promise<string> {
  return await runWithContext({ requestId: `req-${name}`, route: 'POST /v1/probe' }, () =>
    database.transaction(null, tx => enqueue(tx, { queue, name, payload })))
}

t.test('full jitter backoff', async tt => {
  const policy = { baseDelayMs: 100, maxDelayMs: 5_000 }
  const ceilings = [100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000]

  tt.same(ceilings.map((_c, i) => fullJitterDelay(i + 1, policy, () => 0)), ceilings.map(() => 0), 'the lowest draw waits 0')
  tt.same(ceilings.map((_c, i) => fullJitterDelay(i + 1, policy, () => 0.999_999_999)), ceilings,
    'the highest draw waits base * 2^(n-1), capped')
  tt.equal(fullJitterDelay(500, policy, () => 0.999_999_999), 5_000, 'a huge attempt count stays at the cap')

  const random = seeded(42)
  const samples = 2_000
  const means: number[] = []
  for (let failures = 1; failures <= ceilings.length; failures++) {
    let sum = 0
    for (let i = 0; i < samples; i++) {
      const delay = fullJitterDelay(failures, policy, random)
      if (delay < 0 || delay > policy.maxDelayMs || !Number.isInteger(delay)) tt.fail(`delay ${delay} out of [0, cap]`)
      sum += delay
    }
    means.push(sum / samples)
  }
  for (let i = 1; i < 6; i++) tt.ok(means[i]! > means[i - 1]! * 1.5, `mean wait grows: ${Math.round(means[i - 1]!)} -> ${Math.round(means[i]!)}`)
  for (const [i, mean] of means.entries()) {
    const expected = ceilings[i]! / 2
    tt.ok(Math.abs(mean - expected) < expected * 0.1, `mean after ${i + 1} failures is about half the ceiling (${Math.round(mean)} ~ ${expected})`)
  }

  const strategy = jitterBackoffStrategy(name => ({ attempts: 3, baseDelayMs: name === 'slow' ? 1_000 : 10, maxDelayMs: 10_000 }), () => 0.5)
  tt.equal(await strategy(3, 'jitter', undefined, { name: 'slow' } as Parameters<typeof strategy>[3]), 2_000, 'the strategy uses the policy of the job type')
  tt.equal(await strategy(3, 'jitter', undefined, { name: 'fast' } as Parameters<typeof strategy>[3]), 20)
})

t.test('a job failing twice is retried and then completes', async tt => {
  const outboxId = await enqueueJob('maintenance', 'test.flaky', { marker: 'flaky' })
  const job = await waitFor('the flaky job completed', async () => {
    const found = await queues.get('maintenance').getJob(`outbox-${outboxId}`)
    return await found?.getState() === 'completed' ? found : undefined
  })
  tt.same(runs.get('flaky'), [1, 2, 3], 'it ran three times: two failures, then success')
  tt.equal(job.opts.attempts, 4, 'the job carries the attempts of its type')
  tt.match(job.opts.backoff, { type: 'jitter', delay: 20 }, 'and the jitter backoff')
  const retried = logs.filter(line => line.msg === 'job failed; it will be retried' && line.job === 'test.flaky')
  tt.equal(retried.length, 2, 'each failure is logged')
  tt.match(retried[0], { request_id: 'req-test.flaky', attempt: 1 }, 'with the request id that caused the job')
})

t.test('a job failing every attempt stays in the failed set and is counted', async tt => {
  const outboxId = await enqueueJob('maintenance', 'test.doomed', { marker: 'doomed' })
  await waitFor('the doomed job failed for good', async () =>
    await (await queues.get('maintenance').getJob(`outbox-${outboxId}`))?.getState() === 'failed')
  tt.same(runs.get('doomed'), [1, 2], 'it ran as many times as its type allows')
  const counts = await worker.queueCounts()
  tt.match(counts.maintenance, { failed: 1, waiting: 0, active: 0, delayed: 0 }, 'queueCounts reports the failed job')
  tt.match(counts.billing, { failed: 0 })
  tt.match(logs.find(line => line.msg === 'job failed for good'), { job: 'test.doomed', attempt: 2, request_id: 'req-test.doomed' })
})

t.test('once(): a job run twice in a row leaves the same state as once', async tt => {
  const state = async (): Promise<unknown> => ({
    balances: [...await sql`select account, amount from balances order by account`],
    processed: [...await sql`select key from processed_jobs order by key`]
  })
  const payload = { account: 'acc-1', amount: 25, transfer: 'tr-1' }
  const first = await enqueueJob('billing', 'test.credit', payload)
  await waitFor('the first run completed', async () =>
    await (await queues.get('billing').getJob(`outbox-${first}`))?.getState() === 'completed')
  const afterOnce = await state()
  tt.same(afterOnce, { balances: [{ account: 'acc-1', amount: 125 }], processed: [{ key: 'credit:tr-1' }] }, 'the first run credits')

  // the same job delivered again (a duplicate event, a re-run): a job of its own, the same payload
  const again = await enqueueJob('billing', 'test.credit', payload)
  await waitFor('the second run completed', async () =>
    await (await queues.get('billing').getJob(`outbox-${again}`))?.getState() === 'completed')
  tt.equal(runs.get('tr-1')?.length, 2, 'the handler ran twice')
  tt.same(await state(), afterOnce, 'the second run changed nothing')
})

t.test('enqueue refuses what could not travel as a job', async tt => {
  const attempt = async (options: Parameters<typeof enqueue>[1]): Promise<string> =>
    await database.transaction(null, tx => enqueue(tx, options))
  await tt.rejects(attempt({ queue: 'billing', name: 'test.credit', payload: { invoice: { id: 1 } } as unknown as JobPayload }),
    /jobs carry ids and scalars, not objects/, 'an object in the payload')
  await tt.rejects(attempt({ queue: 'nowhere' as 'billing', name: 'test.credit', payload: {} }), /unknown queue/, 'an unknown queue')
  await tt.rejects(attempt({ queue: 'billing', name: 'test.credit', payload: {}, jobId: '12345' }), /jobId/, 'a job id of digits only')
  await tt.rejects(attempt({ queue: 'billing', name: 'test.credit', payload: {}, jobId: 'a:b' }), /jobId/, 'a job id with a colon')
  await tt.rejects(attempt({ queue: 'billing', name: 'test.credit', payload: {}, delayMs: -1 }), /delayMs/, 'a negative delay')
  const [count] = await sql<Array<{ n: number }>>`select count(*)::int as n from outbox where payload = '{}'::jsonb`
  tt.equal(count?.n, 0, 'none of them wrote a row')
})
