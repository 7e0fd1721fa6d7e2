import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { currentContext, runWithContext, type RequestContext } from '../../../src/context.ts'
import type { Database } from '../../../src/platform/db/database.ts'
import { enqueue } from '../../../src/platform/jobs/outbox.ts'
import { JobRegistry } from '../../../src/platform/jobs/registry.ts'
import { bullJobOf, type OutboxRow } from '../../../src/platform/jobs/relay.ts'
import { testConfig } from '../../helpers/app.ts'
import { createTestDatabase } from '../../helpers/database.ts'
import { asOwner, serviceDatabase, startTestWorker, testQueues } from '../../helpers/jobs.ts'
import { waitFor } from '../../helpers/wait.ts'
import { startPrivateRedis } from '../../helpers/redis-server.ts'

const JOB = 'test.record'

interface Effect {
  marker: string
  request_id: string | null
  tenant_id: string | null
  application_name: string
}

/** A database of its own with a table the test job writes to, and a registry whose job records what it saw. */
async function setup (tt: Test) {
  const db = await createTestDatabase()
  tt.teardown(() => db.drop())
  await asOwner(db, `
    create table job_effects (marker text not null, request_id text, tenant_id text, application_name text not null);
    grant select, insert on job_effects to atrium_runtime;`)
  const contexts: Array<{ marker: string, context: RequestContext | undefined }> = []
  const registry = new JobRegistry().register<{ marker: string }>({
    queue: 'maintenance',
    name: JOB,
    async handler (payload, job) {
      const context = currentContext()
      contexts.push({ marker: payload.marker, context: context && { ...context } })
      job.log.info({ marker: payload.marker }, 'recording the effect')
      await job.db.transaction(null, tx => tx`
        insert into job_effects (marker, request_id, tenant_id, application_name)
        values (${payload.marker}, ${context?.requestId ?? null}, ${context?.tenantId ?? null}, current_setting('application_name'))`)
    }
  })
  const { sql, database } = serviceDatabase(tt, db)
  const effects = async (marker: string): Promise<Effect[]> =>
    await sql<Effect[]>`select marker, request_id, tenant_id, application_name from job_effects where marker = ${marker}`
  const outboxRows = async (marker: string) =>
    await sql<Array<{ id: string, request_id: string | null, tenant_id: string | null, relayed_at: Date | null }>>`
      select id, request_id, tenant_id, relayed_at from outbox where payload->>'marker' = ${marker}`
  return { db, registry, contexts, database, effects, outboxRows }
}

/** Enqueues the test job in a committed transaction made for a request of the given id and tenant. */
async function enqueueFor (database: Database, marker: string, requestId: string, tenantId: string): Promise<string> {
  return await runWithContext({ requestId, tenantId, route: 'POST /v1/probe' }, () =>
    database.transaction(tenantId, tx => enqueue(tx, { queue: 'maintenance', name: JOB, payload: { marker } })))
}

t.test('a committed job is delivered once, in the context of the request that enqueued it', async tt => {
  const { db, registry, contexts, database, effects, outboxRows } = await setup(tt)
  const { queues, logs } = await startTestWorker(tt, db, registry)
  const tenantId = randomUUID()

  const outboxId = await enqueueFor(database, 'committed', 'req-committed-1', tenantId)
  const [row] = await outboxRows('committed')
  tt.match(row, { id: outboxId, request_id: 'req-committed-1', tenant_id: tenantId }, 'the outbox row carries the request id and tenant')

  const job = await waitFor('the job completed', async () => {
    const found = await queues.get('maintenance').getJob(`outbox-${outboxId}`)
    return (await found?.getState()) === 'completed' ? found : undefined
  })
  tt.same(job.data.payload, { marker: 'committed' }, 'the job carries the payload of the row')
  const rows = await effects('committed')
  tt.equal(rows.length, 1, 'the handler ran once')
  tt.match(rows[0], { request_id: 'req-committed-1', tenant_id: tenantId }, 'its SQL ran with the restored context')
  tt.equal(rows[0]?.application_name, 'atrium req-committed-1 job:test.record', 'PostgreSQL sees the request id and the job')
  tt.same(contexts.filter(c => c.marker === 'committed').map(c => c.context),
    [{ requestId: 'req-committed-1', tenantId, route: 'job:test.record' }], 'the handler saw the request context')
  tt.match(logs.find(line => line.msg === 'recording the effect'), { request_id: 'req-committed-1', tenant_id: tenantId },
    'a log line written inside the handler carries the request id and tenant')
  const [relayed] = await outboxRows('committed')
  tt.ok(relayed?.relayed_at instanceof Date, 'the row is marked relayed')
})

t.test('a rolled back transaction enqueues nothing', async tt => {
  const { db, registry, contexts, database, effects, outboxRows } = await setup(tt)
  await startTestWorker(tt, db, registry)
  const tenantId = randomUUID()

  await tt.rejects(runWithContext({ requestId: 'req-rollback', tenantId, route: 'POST /v1/probe' }, () =>
    database.transaction(tenantId, async tx => {
      await enqueue(tx, { queue: 'maintenance', name: JOB, payload: { marker: 'rolled-back' } })
      throw new Error('a business rule failed after the enqueue')
    })), /business rule failed/)
  tt.same(await outboxRows('rolled-back'), [], 'no outbox row survives the rollback')

  // a later committed job is delivered: the relay has passed the point where the other would be
  await enqueueFor(database, 'after-rollback', 'req-after', tenantId)
  await waitFor('the later job ran', async () => (await effects('after-rollback')).length === 1)
  tt.same(await effects('rolled-back'), [], 'the rolled back job never ran')
  tt.notOk(contexts.some(c => c.marker === 'rolled-back'), 'its handler was never called')
})

t.test('a job committed while Redis is down is delivered once Redis is back, exactly once', async tt => {
  const redis = await startPrivateRedis(tt)
  const { db, registry, database, effects, outboxRows } = await setup(tt)
  const { queues, logs, close } = await startTestWorker(tt, db, registry, { env: { REDIS_URL: redis.url } })
  const tenantId = randomUUID()

  await enqueueFor(database, 'before-outage', 'req-before', tenantId)
  await waitFor('the job before the outage ran', async () => (await effects('before-outage')).length === 1)

  await redis.stop()
  await enqueueFor(database, 'during-outage', 'req-during', tenantId)
  await waitFor('the relay reported the outage', () => logs.some(line => line.msg === 'outbox relay failed; rows stay and are retried'))
  const [waiting] = await outboxRows('during-outage')
  tt.equal(waiting?.relayed_at, null, 'the row waits in the outbox while Redis is down')
  tt.same(await effects('during-outage'), [], 'nothing ran while Redis was down')

  await redis.start()
  await waitFor('the job committed during the outage ran', async () => (await effects('during-outage')).length > 0, 20_000)
  const [relayed] = await outboxRows('during-outage')
  tt.ok(relayed?.relayed_at instanceof Date, 'the row is marked relayed')
  await sleep(1_500) // two relay polls: a second copy would be added and run by now
  tt.equal((await effects('during-outage')).length, 1, 'the job ran exactly once')
  const counts = await queues.get('maintenance').getJobCounts('completed', 'waiting', 'delayed', 'active', 'failed')
  tt.same(counts, { completed: 1, waiting: 0, delayed: 0, active: 0, failed: 0 }, 'the restarted Redis holds that one job')
  tt.match(logs.find(line => line.msg === 'recording the effect' && line.marker === 'during-outage'), { request_id: 'req-during' })
  await close() // while the private Redis still runs
})

t.test('a relay that dies after adding a job and before marking its row does not make a second job', async tt => {
  const { db, registry, database, effects, outboxRows } = await setup(tt)
  const tenantId = randomUUID()
  const outboxId = await enqueueFor(database, 'crash', 'req-crash', tenantId)

  // what the dead relay left behind: the job is in BullMQ, the row is not marked
  const config = testConfig(db)
  const { queues } = testQueues(tt, config)
  const row: OutboxRow = {
    id: outboxId,
    queue: 'maintenance',
    job_name: JOB,
    payload: { marker: 'crash' },
    tenant_id: tenantId,
    request_id: 'req-crash',
    job_id: null,
    trace_context: null,
    remaining_delay_ms: 0
  }
  const job = bullJobOf(row, registry.retryPolicy(JOB))
  await queues.get('maintenance').add(job.name, job.data, job.opts)
  tt.equal((await outboxRows('crash'))[0]?.relayed_at, null, 'the row is still to be relayed')

  await startTestWorker(tt, db, registry, { config })
  await waitFor('the row was relayed again', async () => (await outboxRows('crash'))[0]?.relayed_at instanceof Date)
  const counts = await queues.get('maintenance').getJobCounts('completed', 'waiting', 'delayed', 'active', 'failed')
  const total = Object.values(counts).reduce((sum, count) => sum + count, 0)
  tt.equal(total, 1, 'BullMQ holds one job for the row')
  await waitFor('the job completed', async () => await (await queues.get('maintenance').getJob(`outbox-${outboxId}`))?.getState() === 'completed')
  tt.equal((await effects('crash')).length, 1, 'the handler ran once')
})

t.test('a keyed job replaces the older job with its key that has not started', async tt => {
  const { db, registry, database, effects } = await setup(tt)
  const { queues } = await startTestWorker(tt, db, registry)
  const enqueueKeyed = async (marker: string, delayMs: number): Promise<string> =>
    await runWithContext({ requestId: `req-${marker}`, route: 'POST /v1/probe' }, () =>
      database.transaction(null, tx => enqueue(tx, { queue: 'maintenance', name: JOB, payload: { marker }, delayMs, jobId: 'probe-schedule-1' })))

  const older = await enqueueKeyed('scheduled-late', 60_000)
  await waitFor('the delayed job is in BullMQ', async () =>
    (await queues.get('maintenance').getJob('probe-schedule-1'))?.data.outboxId === older)
  const newer = await enqueueKeyed('rescheduled-now', 0)
  await waitFor('the rescheduled job ran', async () => (await effects('rescheduled-now')).length === 1)
  const job = await queues.get('maintenance').getJob('probe-schedule-1')
  tt.equal(job?.data.outboxId, newer, 'the key holds the newer job')
  tt.match(await queues.get('maintenance').getJobCounts('delayed', 'completed'), { delayed: 0, completed: 1 }, 'the older job is gone')
  tt.same(await effects('scheduled-late'), [], 'the replaced job never ran')
})
