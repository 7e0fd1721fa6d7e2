import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { createTenant, relaxedAuthLimits } from '../test/helpers/tenants.ts'
import { bearer } from '../test/helpers/users.ts'
import { startPrivateRedis } from '../test/helpers/redis-server.ts'
import { waitFor } from '../test/helpers/wait.ts'
import { shutdownRedisIfOrphaned } from '../test/helpers/orphans.ts'
import { startFaultApp } from './helpers/app.ts'
import { checkArticles, recordWrites } from './helpers/articles.ts'
import { startLoad, summaryLine, tally, type LoadRequest, type Outcome } from './helpers/load.ts'
import { startPrivatePostgres } from './helpers/postgres-cluster.ts'

/** The route budget (REQUEST_TIMEOUT_MS) and what a 503 may take beyond it before it counts as a hang. */
const BUDGET_MS = 1_500
const SLACK_MS = 1_000
const CONCURRENCY = 8
const LOAD_BEFORE_STOP_MS = 1_500
const OUTAGE_MS = 3_000
const LOAD_AFTER_RECOVERY_MS = 1_000
const RECOVERY_LIMIT_MS = 20_000

const pg = await startPrivatePostgres(t)
const redis = await startPrivateRedis(t)
shutdownRedisIfOrphaned(t, redis.port)
const { app, baseUrl, logs, readyz } = await startFaultApp(t, pg, redis, { env: { REQUEST_TIMEOUT_MS: String(BUDGET_MS), ...relaxedAuthLimits } })

t.test('PostgreSQL stops during load: fast 503s, /readyz fails, recovery without a restart, nothing half-written', async tt => {
  const tenant = await createTenant(app)
  const headers = bearer(tenant.editor.token)
  // warm the caches (token, user, tenant, role) so the hot path needs no lookup during the outage
  const warm = await app.inject({ method: 'POST', url: '/v1/articles', headers, payload: { title: 'pg-fault-warm-up' } })
  tt.equal(warm.statusCode, 201, 'a write before the load')
  const sentTitles = new Set(['pg-fault-warm-up'])
  tt.equal((await readyz()).status, 200, 'ready before the load')

  let sequence = 0
  const next = (): LoadRequest => {
    const n = sequence++
    if (n % 2 === 1) return { kind: 'read', method: 'GET', path: '/v1/articles?limit=5', headers }
    const title = `pg-fault-${n}`
    sentTitles.add(title)
    return { kind: 'write', method: 'POST', path: '/v1/articles', headers, body: { title }, key: title }
  }
  const load = startLoad({ baseUrl, concurrency: CONCURRENCY, next, clientTimeoutMs: 15_000, maxDurationMs: 60_000 })

  await sleep(LOAD_BEFORE_STOP_MS)
  await pg.stop('immediate')
  const stoppedAt = Date.now()
  const down = await waitFor('/readyz to report postgres fail', async () => {
    const answer = await readyz()
    return answer.status === 503 && answer.body.checks.postgres === 'fail' ? answer : undefined
  }, 5_000)
  tt.same(down.body, { status: 'unavailable', checks: { postgres: 'fail', redis: 'ok' } }, '/readyz: 503, postgres fail')

  await sleep(Math.max(0, stoppedAt + OUTAGE_MS - Date.now()))
  // the server may take requests a little before pg_ctl reports it started: the outage ends here
  const restartingAt = Date.now()
  await pg.start()
  const restartedAt = Date.now()
  const recovered = await waitFor('a write to succeed after PostgreSQL returned', () => load.outcomes.find(o => o.kind === 'write' && o.status === 201 && o.startedAt >= restartedAt), RECOVERY_LIMIT_MS)
  const recoveredAfterMs = recovered.startedAt + recovered.latencyMs - restartedAt
  await sleep(LOAD_AFTER_RECOVERY_MS)
  const outcomes = await load.stop()
  const back = await waitFor('/readyz to answer 200 again', async () => {
    const answer = await readyz()
    return answer.status === 200 ? answer : undefined
  }, RECOVERY_LIMIT_MS)
  tt.same(back.body, { status: 'ok', checks: { postgres: 'ok', redis: 'ok' } }, '/readyz: 200 again, no restart')

  const isFastFailure = (o: Outcome): boolean => o.status === 503 && (o.code === 'timeout' || o.code === 'unavailable')
  const isOk = (o: Outcome): boolean => o.status === 200 || o.status === 201
  const ok = outcomes.filter(isOk)
  const failed = outcomes.filter(isFastFailure)
  const other = outcomes.filter(o => !isOk(o) && !isFastFailure(o))
  tt.same(other.slice(0, 5), [], `every answer is 2xx or 503 timeout/unavailable (${JSON.stringify(tally(outcomes))})`)
  tt.ok(failed.length > 0, `the outage was felt: ${failed.length} requests answered 503`)
  const duringOutage = outcomes.filter(o => o.startedAt >= stoppedAt && o.startedAt + o.latencyMs <= restartingAt)
  tt.ok(duringOutage.length > 0, `${duringOutage.length} requests were made and answered while PostgreSQL was down`)
  tt.same(duringOutage.filter(o => !isFastFailure(o)), [], 'each of them answered 503')
  const maxLatencyMs = Math.round(Math.max(...outcomes.map(o => o.latencyMs)))
  tt.ok(maxLatencyMs <= BUDGET_MS + SLACK_MS, `no request waited past its budget: slowest ${maxLatencyMs} ms (budget ${BUDGET_MS} + ${SLACK_MS})`)
  tt.notOk(logs.some(line => line.code === 'internal'), 'no request failed as a 500')

  // The data: every acknowledged article exactly once, each with its one audit entry; no orphan either way.
  const acknowledged = new Map<string, string>([['pg-fault-warm-up', (warm.json() as { article: { id: string } }).article.id]])
  const errored = recordWrites(outcomes, acknowledged)
  const check = await checkArticles(pg.ownerUrl, tenant.id, { acknowledged, errored, sent: sentTitles })
  tt.same(check.lost, [], 'every 201-acknowledged article exists exactly once, with the acknowledged id')
  tt.same(check.duplicates, [], 'no article was written twice')
  tt.equal(check.halfWritten, 0, 'every article has exactly one "created" audit entry, and every such entry its article')
  tt.same(check.unknown, [], 'no article that was never sent')
  // a COMMIT cut by the crash may have landed after all: whole, never half, and never acknowledged
  tt.equal(check.stored, acknowledged.size + check.committedDespiteError, 'articles = acknowledged + whole ones whose answer was lost to the crash')

  tt.comment(summaryLine('postgres-stop', [
    ['sent', outcomes.length],
    ['ok', ok.length],
    ['503', failed.length],
    ['other', other.length],
    ['503_timeout', failed.filter(o => o.code === 'timeout').length],
    ['503_unavailable', failed.filter(o => o.code === 'unavailable').length],
    ['during_outage', duringOutage.length],
    ['max_latency_ms', maxLatencyMs],
    ['recovered_after_ms', Math.round(recoveredAfterMs)],
    ['rows_checked', check.rowsChecked],
    ['lost', check.lost.length],
    ['half_written', check.halfWritten],
    ['duplicates', check.duplicates.length],
    ['committed_despite_503', check.committedDespiteError]
  ]))
})
