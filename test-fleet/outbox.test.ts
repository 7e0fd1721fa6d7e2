import t from 'tap'
import { Redis } from 'ioredis'
import { createSql, type Sql } from '../src/platform/db/client.ts'
import { waitFor } from '../test/helpers/wait.ts'
import { createTenant } from './helpers/accounts.ts'
import { isMessage, startFleet, type Instance } from './helpers/fleet.ts'
import { callsBetween, commandCalls, total } from './helpers/redis-stats.ts'

const BURST = 2_000
const PUBLISHED = 'scheduled article published'
const STALE = 'scheduled publication stale or done already'
const REDIS_PREFIX = 'atrium-fleet-outbox:'

// the job held up at SIGKILL waits on a row lock: long enough to outlast the kill and the restart
// and a killed worker's job is retried within about 2 × WORKER_JOB_LOCK_MS (default 30 s)
const JOB_LOCK_MS = 10_000
const fleet = await startFleet(t, { env: { LOCK_TIMEOUT_MS: '60000', REDIS_PREFIX, WORKER_JOB_LOCK_MS: String(JOB_LOCK_MS), WORKER_CONCURRENCY: '10' } })
const tenant = await createTenant(fleet.nginx.url)
const owner = createSql(fleet.db.ownerUrl, { max: 3 })
t.teardown(() => owner.end({ timeout: 5 }))
const redis = new Redis(fleet.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
t.teardown(() => redis.disconnect())

/**
 * Scheduled articles due now, and their publishing jobs' outbox rows, written in one transaction
 * as the owner (the rows a burst of POST /schedule would write), then one NOTIFY.
 */
async function scheduleDirectly (sql: Sql, titles: string[]): Promise<string[]> {
  const publishAt = new Date(Date.now() - 1_000)
  const ids = await sql.begin(async tx => {
    const rows = await tx<Array<{ id: string }>>`
      with a as (
        insert into articles (tenant_id, author_id, title, status, publish_at)
        select ${tenant.id}, ${tenant.owner.id}, title, 'scheduled', ${publishAt} from unnest(${titles}::text[]) title
        returning id)
      insert into outbox (queue, job_name, payload, tenant_id)
      select 'publishing', 'articles.publish-scheduled',
        jsonb_build_object('articleId', a.id::text, 'tenantId', ${tenant.id}::text, 'publishAt', ${publishAt.toISOString()}::text), ${tenant.id}
      from a
      returning payload->>'articleId' as id`
    return rows.map(row => row.id)
  })
  await sql`select pg_notify('atrium_outbox', '')`
  return ids
}

const runs = (worker: Instance, message: string): number => worker.process.lines.filter(isMessage(message)).length

interface Effects { published: number, audits: number, articlesAudited: number }
async function effects (ids: string[]): Promise<Effects> {
  const [row] = await owner<Effects[]>`
    select
      (select count(*)::int from articles where tenant_id = ${tenant.id} and id = any(${ids}::uuid[]) and status = 'published') as published,
      (select count(*)::int from audit_log where tenant_id = ${tenant.id} and action = 'published' and object_id = any(${ids}::text[])) as audits,
      (select count(distinct object_id)::int from audit_log where tenant_id = ${tenant.id} and action = 'published' and object_id = any(${ids}::text[])) as "articlesAudited"`
  return row!
}

t.test(`${BURST} outbox rows in one burst become ${BURST} jobs, each run once, by two relays and two workers`, async tt => {
  const before = fleet.workers.map(worker => runs(worker, PUBLISHED))
  const commandsBefore = await commandCalls(fleet.redis.url)
  const started = Date.now()
  const ids = await scheduleDirectly(owner, Array.from({ length: BURST }, (_, n) => `burst-${n}`))
  await waitFor('every burst article published', async () => (await effects(ids)).published === BURST, 90_000, 250)
  const tookMs = Date.now() - started
  const calls = callsBetween(commandsBefore, await commandCalls(fleet.redis.url))
  // a late duplicate would show within the relays' next polls (1 s)
  await new Promise(resolve => setTimeout(resolve, 1_500))

  const after = await effects(ids)
  tt.same(after, { published: BURST, audits: BURST, articlesAudited: BURST }, `${BURST} articles published, each with exactly one "published" audit entry`)
  const [outbox] = await owner<Array<{ relayed: number, pending: number }>>`
    select count(*) filter (where relayed_at is not null)::int as relayed, count(*) filter (where relayed_at is null)::int as pending
    from outbox where job_name = 'articles.publish-scheduled' and payload->>'articleId' = any(${ids}::text[])`
  tt.same(outbox, { relayed: BURST, pending: 0 }, 'every outbox row relayed, none left')
  await redis.connect()
  const completed = await redis.zcard(`${REDIS_PREFIX}bull:publishing:completed`)
  tt.equal(completed, BURST, `BullMQ holds exactly ${BURST} completed publishing jobs (one per row: ids derive from the row)`)
  const perWorker = fleet.workers.map((worker, i) => runs(worker, PUBLISHED) - before[i]!)
  const stale = fleet.workers.reduce((sum, worker) => sum + runs(worker, STALE), 0)
  tt.equal(perWorker.reduce((a, b) => a + b, 0), BURST, `the handlers ran ${BURST} times in all`)
  tt.equal(stale, 0, 'no job ran a second time (no stale run)')
  tt.ok(perWorker.every(n => n > 0), 'both workers took jobs')
  tt.comment(`fleet: outbox burst: ${BURST} rows → ${completed} jobs, ${after.published} published in ${tookMs} ms; ` +
    `runs: ${fleet.workers.map((w, i) => `${w.name} ${perWorker[i]!}`).join(', ')}; second runs ${stale}; ` +
    `Redis: ${(total(calls) / BURST).toFixed(1)} commands a job, relay to done (${calls.slice(0, 5).map(([c, k]) => `${c} ${k}`).join(', ')})`)
})

t.test('a worker killed (SIGKILL) in the middle of a job: the job is retried and its effect happens once', async tt => {
  const [victim, spare] = fleet.workers
  // one worker takes the job: the other stops cleanly first (and comes back after the kill)
  spare.process.kill('SIGTERM')
  tt.ok(await spare.process.exitWithin(20_000), `${spare.name} stopped`)

  // the article's row is locked, so the job, once running, waits inside its transaction
  const locker = await owner.reserve()
  const lock = { held: true }
  const release = async (): Promise<void> => {
    if (!lock.held) return
    lock.held = false
    await locker`rollback`
    locker.release()
  }
  tt.teardown(release)
  const [article] = await scheduleDirectly(owner, ['killed-mid-job'])
  await locker`begin`
  await locker`select 1 from articles where tenant_id = ${tenant.id} and id = ${article!} for update`
  const [{ pid: lockerPid } = { pid: 0 }] = await locker<Array<{ pid: number }>>`select pg_backend_pid() as pid`
  await waitFor('the job waiting on the locked article', async () =>
    (await owner`select 1 from pg_stat_activity where ${lockerPid}::integer = any(pg_blocking_pids(pid))`).length > 0, 20_000, 50)
  tt.pass(`the job is running on ${victim.name}, waiting on the locked row`)

  victim.process.kill('SIGKILL')
  const killed = await victim.process.exitWithin(5_000)
  tt.equal(killed?.signal, 'SIGKILL', `${victim.name} killed mid-job`)
  const killedAt = Date.now()
  await release()
  tt.same(await effects([article!]), { published: 0, audits: 0, articlesAudited: 0 }, 'the killed run changed nothing (its transaction never committed)')

  // BullMQ's stalled-job check finds the job once its lock (WORKER_JOB_LOCK_MS) has expired
  await Promise.all([victim.start(), spare.start()])
  await waitFor('the job retried to completion', async () => (await effects([article!])).published === 1, 90_000, 250)
  const retriedAfterMs = Date.now() - killedAt
  await new Promise(resolve => setTimeout(resolve, 1_500))
  tt.same(await effects([article!]), { published: 1, audits: 1, articlesAudited: 1 }, 'published once, one audit entry')
  tt.comment(`fleet: worker SIGKILL mid-job: retried and done ${retriedAfterMs} ms after the kill (BullMQ stalled check, WORKER_JOB_LOCK_MS=${JOB_LOCK_MS}), effect applied once`)
})
