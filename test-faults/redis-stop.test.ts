import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { JobRegistry } from '../src/platform/jobs/registry.ts'
import { publishArticleJob } from '../src/features/articles/jobs.ts'
import { createLogger } from '../src/platform/logger.ts'
import { startWorker } from '../src/worker.ts'
import { logCollector } from '../test/helpers/app.ts'
import { waitFor } from '../test/helpers/wait.ts'
import { startPrivateRedis } from '../test/helpers/redis-server.ts'
import { withSql } from '../test/helpers/sql.ts'
import { createTenant, enableFeature } from '../test/helpers/tenants.ts'
import { bearer, PASSWORD, registerUser } from '../test/helpers/users.ts'
import { shutdownRedisIfOrphaned } from '../test/helpers/orphans.ts'
import { startFaultApp } from './helpers/app.ts'
import { checkArticles, recordWrites } from './helpers/articles.ts'
import { startLoad, summaryLine, tally, type LoadRequest } from './helpers/load.ts'
import { startPrivatePostgres } from './helpers/postgres-cluster.ts'

const CONCURRENCY = 6
const LOAD_BEFORE_STOP_MS = 1_000
const OUTAGE_MS = 3_000
const LOAD_AFTER_RETURN_MS = 1_000
/** drafts made up front, scheduled one by one while Redis is away */
const SCHEDULABLE = 40
const PUBLISH_DELAY_MS = 1_500
const LOGINS_PER_EMAIL = 3
const DELIVERY_LIMIT_MS = 30_000

const pg = await startPrivatePostgres(t)
const redis = await startPrivateRedis(t)
shutdownRedisIfOrphaned(t, redis.port)
const { app, config, baseUrl, logs, readyz } = await startFaultApp(t, pg, redis, {
  env: { AUTH_RATE_LIMIT_PER_IP: '100000', AUTH_RATE_LIMIT_PER_EMAIL: String(LOGINS_PER_EMAIL) }
})
const workerLogs = logCollector()
const worker = await startWorker(config, createLogger({ LOG_LEVEL: 'info' }, workerLogs.stream), {
  registry: new JobRegistry().register(publishArticleJob),
  relay: { pollIntervalMs: 250 }
})
t.teardown(() => worker.close())

/** Logs the user in `times` times over HTTP; the statuses in order. */
async function logins (email: string, times: number): Promise<number[]> {
  const statuses: number[] = []
  for (let i = 0; i < times; i++) {
    const response = await fetch(`${baseUrl}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
      signal: AbortSignal.timeout(5_000)
    })
    await response.arrayBuffer()
    statuses.push(response.status)
  }
  return statuses
}

const overLimit = [...Array<number>(LOGINS_PER_EMAIL).fill(200), 429]

t.test('Redis stops during load: tenant reads and writes go on, jobs enqueued meanwhile are delivered after', async tt => {
  const tenant = await createTenant(app)
  await enableFeature(app, 'scheduled-publishing', [tenant.id])
  const headers = bearer(tenant.editor.token)
  const sentTitles = new Set<string>()
  const drafts: string[] = []
  for (let i = 0; i < SCHEDULABLE; i++) {
    const title = `redis-fault-draft-${i}`
    sentTitles.add(title)
    const created = await app.inject({ method: 'POST', url: '/v1/articles', headers, payload: { title } })
    if (created.statusCode !== 201) throw new Error(`draft: ${created.statusCode} ${created.body}`)
    drafts.push((created.json() as { article: { id: string } }).article.id)
  }
  const acknowledged = new Map<string, string>(drafts.map((id, i) => [`redis-fault-draft-${i}`, id]))
  tt.equal((await readyz()).status, 200, 'ready before the load')
  tt.same(await logins((await registerUser(app)).email, LOGINS_PER_EMAIL + 1), overLimit,
    `with Redis up, login is limited: ${LOGINS_PER_EMAIL} a minute per email, then 429`)

  let sequence = 0
  let schedulingOn = false
  const scheduled: string[] = []
  const next = (): LoadRequest => {
    const n = sequence++
    if (schedulingOn && n % 4 === 3 && scheduled.length < drafts.length) {
      const id = drafts[scheduled.length]!
      scheduled.push(id)
      const publishAt = new Date(Date.now() + PUBLISH_DELAY_MS).toISOString()
      return { kind: 'schedule', method: 'POST', path: `/v1/articles/${id}/schedule`, headers, body: { publish_at: publishAt }, key: id }
    }
    if (n % 4 === 0) {
      const title = `redis-fault-${n}`
      sentTitles.add(title)
      return { kind: 'write', method: 'POST', path: '/v1/articles', headers, body: { title }, key: title }
    }
    if (n % 4 === 1) return { kind: 'read', method: 'GET', path: `/v1/articles/${drafts[n % drafts.length]!}`, headers }
    return { kind: 'read', method: 'GET', path: '/v1/articles?limit=5', headers }
  }
  const load = startLoad({ baseUrl, concurrency: CONCURRENCY, next, clientTimeoutMs: 15_000, maxDurationMs: 60_000 })

  await sleep(LOAD_BEFORE_STOP_MS)
  await redis.stop('SIGKILL')
  const stoppedAt = Date.now()
  // the private Redis keeps nothing across a restart (production runs it with appendonly): only
  // jobs enqueued while it is down are checked, so none is lost to the restart itself
  schedulingOn = true
  const down = await waitFor('/readyz to report redis fail', async () => {
    const answer = await readyz()
    return answer.status === 503 && answer.body.checks.redis === 'fail' ? answer : undefined
  }, 5_000)
  tt.same(down.body, { status: 'unavailable', checks: { postgres: 'ok', redis: 'fail' } }, '/readyz: 503, redis fail')

  const outageEmail = (await registerUser(app)).email
  const outageLogins = await logins(outageEmail, LOGINS_PER_EMAIL + 2)
  tt.same(outageLogins, Array<number>(LOGINS_PER_EMAIL + 2).fill(200), 'with Redis down, the login limit fails open (API.md, plugins/rate-limit.ts)')
  tt.ok(logs.some(line => line.msg === 'auth rate limit skipped: Redis unavailable'), 'and each skipped check is logged')

  await sleep(Math.max(0, stoppedAt + OUTAGE_MS - Date.now()))
  schedulingOn = false
  const restartingAt = Date.now()
  await redis.start()
  await sleep(LOAD_AFTER_RETURN_MS)
  const outcomes = await load.stop()

  const ok = outcomes.filter(o => o.status >= 200 && o.status < 300)
  const failed = outcomes.filter(o => o.status < 200 || o.status >= 300)
  tt.same(failed.slice(0, 5), [], `every request answered 2xx (${JSON.stringify(tally(outcomes))})`)
  const duringOutage = outcomes.filter(o => o.startedAt >= stoppedAt && o.startedAt + o.latencyMs <= restartingAt)
  tt.ok(duringOutage.some(o => o.kind === 'read') && duringOutage.some(o => o.kind === 'write'),
    `reads and writes were served while Redis was down (${duringOutage.length} requests)`)
  const scheduledOk = outcomes.filter(o => o.kind === 'schedule' && o.status === 200).map(o => o.key!)
  tt.ok(scheduledOk.length > 0, `${scheduledOk.length} articles were scheduled (their jobs enqueued) while Redis was down`)

  const relayed = await waitFor('the outbox to be relayed once Redis was back', async () => {
    const [row] = await withSql(pg.ownerUrl, sql => sql<Array<{ pending: number }>>`
      select count(*)::int as pending from outbox where relayed_at is null`)
    return row?.pending === 0 ? true : undefined
  }, DELIVERY_LIMIT_MS)
  tt.ok(relayed, 'every outbox row was relayed once Redis returned')
  const publications = async () => await withSql(pg.ownerUrl, sql => sql<Array<{ id: string, status: string, audits: number }>>`
    select a.id, a.status, (select count(*)::int from audit_log l where l.tenant_id = a.tenant_id and l.object_id = a.id::text
      and l.action = 'published' and l.actor_id is null) as audits
    from articles a where a.tenant_id = ${tenant.id} and a.id = any(${scheduledOk}::uuid[])`)
  const delivered = await waitFor('every article scheduled during the outage to be published by its job', async () => {
    const rows = await publications()
    return rows.length === scheduledOk.length && rows.every(row => row.status === 'published') ? rows : undefined
  }, DELIVERY_LIMIT_MS)
  tt.same(delivered.filter(row => row.audits !== 1).map(row => row.id), [], 'each published once, by the job (one audit entry, no actor)')

  tt.same(await logins((await registerUser(app)).email, LOGINS_PER_EMAIL + 1), overLimit, 'with Redis back, the login limit holds again')
  const back = await waitFor('/readyz to answer 200 again', async () => {
    const answer = await readyz()
    return answer.status === 200 ? answer : undefined
  }, 10_000)
  tt.same(back.body, { status: 'ok', checks: { postgres: 'ok', redis: 'ok' } }, '/readyz: 200 again')

  const errored = recordWrites(outcomes, acknowledged)
  const check = await checkArticles(pg.ownerUrl, tenant.id, { acknowledged, errored, sent: sentTitles })
  tt.same(check.lost, [], 'every acknowledged article exists exactly once')
  tt.equal(check.halfWritten, 0, 'every article has its one "created" audit entry')
  tt.same(check.unknown, [], 'no article that was never sent')

  tt.comment(summaryLine('redis-stop', [
    ['sent', outcomes.length],
    ['ok', ok.length],
    ['failed', failed.length],
    ['during_outage', duringOutage.length],
    ['logins_during_outage', outageLogins.length],
    ['logins_limited_during_outage', outageLogins.filter(status => status === 429).length],
    ['jobs_enqueued_during_outage', scheduledOk.length],
    ['jobs_delivered', delivered.length],
    ['rows_checked', check.rowsChecked + delivered.length],
    ['lost', check.lost.length + scheduledOk.length - delivered.length],
    ['half_written', check.halfWritten]
  ]))
})
