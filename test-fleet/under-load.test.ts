import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { bearer } from '../test/helpers/users.ts'
import { waitFor } from '../test/helpers/wait.ts'
import { checkArticles } from '../test-faults/helpers/articles.ts'
import { createTenant } from './helpers/accounts.ts'
import { expectStatus, send } from './helpers/client.ts'
import { isMessage, servedBy, startFleet } from './helpers/fleet.ts'
import { byStatus, startArticleLoad, type LoadResult } from './helpers/load.ts'

/** as in docker-compose.yml */
const SHUTDOWN_DELAY_MS = 5_000
const SHUTDOWN_GRACE_MS = 10_000
/** the app's default per-route budget (REQUEST_TIMEOUT_MS): no answer may take much longer */
const BUDGET_MS = 5_000
const RATE = 200
/** closed-loop readers, together at most RATE a second */
const READERS = 8
/** closed-loop writers, each with one POST in flight */
const WRITERS = 3

const fleet = await startFleet(t, { shutdownDelayMs: SHUTDOWN_DELAY_MS })
const tenant = await createTenant(fleet.nginx.url)
const { article } = await expectStatus<{ article: { id: string } }>(`${fleet.nginx.url}/v1/articles`, 201, {
  method: 'POST', headers: bearer(tenant.owner.token), body: { title: 'read under load' }
})
const written = { acknowledged: new Map<string, string>(), errored: new Set<string>(), sent: new Set<string>(['read under load']) }
written.acknowledged.set('read under load', article.id)

function load (titlePrefix: string): ReturnType<typeof startArticleLoad> {
  return startArticleLoad({
    baseUrl: fleet.nginx.url,
    token: tenant.owner.token,
    articleId: article.id,
    readers: READERS,
    readRate: RATE,
    writers: WRITERS,
    timeoutMs: 15_000,
    maxDurationMs: 120_000,
    titlePrefix
  })
}

/** the database holds every write a client was told about, and nothing else */
async function checkWrites (tt: Test, run: LoadResult): Promise<number> {
  for (const [title, id] of run.acknowledged) written.acknowledged.set(title, id)
  for (const title of run.errored) written.errored.add(title)
  for (const title of run.sent) written.sent.add(title)
  const check = await checkArticles(fleet.db.ownerUrl, tenant.id, written)
  tt.same(check.lost, [], `every write answered 201 is in the database (${written.acknowledged.size} checked)`)
  tt.same(check.duplicates, [], 'none twice')
  tt.equal(check.halfWritten, 0, 'each with its "created" audit entry')
  tt.same(check.unknown, [], 'no article that was never sent')
  return check.committedDespiteError
}

t.test('rolling restart under load: each API in turn gets SIGTERM and starts again; no client sees it', async tt => {
  const run = load('rolling')
  const figures: string[] = []
  await sleep(2_000)
  for (const api of fleet.apis) {
    const signalledAt = Date.now()
    api.process.kill('SIGTERM')
    // what Kubernetes does with a Service's endpoints, done here by hand: once /readyz fails, the
    // instance leaves the upstream (nginx reloads with it `down`); requests keep coming meanwhile
    await waitFor(`${api.name} /readyz 503`, async () => (await send(`${api.url}/readyz`, { timeoutMs: 1_000 })).status === 503, SHUTDOWN_DELAY_MS, 50)
    const outOfRotationMs = Date.now() - signalledAt
    await fleet.nginx.markDown([api.port])
    const exit = await api.process.exitWithin(SHUTDOWN_DELAY_MS + SHUTDOWN_GRACE_MS + 5_000)
    tt.match(exit, { code: 0, signal: null }, `${api.name} exited 0 after SIGTERM`)
    const exitMs = exit === undefined ? Number.NaN : exit.at - signalledAt
    tt.ok(exitMs < SHUTDOWN_DELAY_MS + SHUTDOWN_GRACE_MS, `${api.name} shut down within delay + grace (${exitMs} ms)`)
    tt.ok(api.process.lines.some(isMessage('shut down cleanly')), `${api.name} logged a clean shutdown`)
    await api.start()
    const restartedAt = api.startedAt
    // ready again (start() waited for /readyz 200): back in rotation
    await fleet.nginx.markDown([])
    const back = await waitFor(`nginx sending to ${api.name} again`, async () => {
      const entries = await fleet.nginx.accessLog()
      return entries.some(e => Date.parse(e.time as string) >= restartedAt - 1_000 && servedBy(fleet, e.upstream_addr as string) === api.name && e.status < 300)
    }, 20_000, 200)
    tt.ok(back, `nginx sends to the restarted ${api.name}`)
    figures.push(`${api.name} out of rotation ${outOfRotationMs} ms after SIGTERM, exit after ${exitMs} ms, serving through nginx again ${Date.now() - restartedAt} ms after its start`)
  }
  await sleep(1_000)
  const result = await run.stop()

  const statuses = byStatus(run.answers)
  const failed = run.answers.filter(a => a.status < 200 || (a.status >= 300 && a.status !== 429))
  tt.same(failed.map(a => a.status), [], 'no non-2xx answer (429 aside)')
  tt.equal(result.errors, 0, 'no socket errors or client timeouts')
  const committedDespiteError = await checkWrites(tt, result)
  const entries = await fleet.nginx.accessLog()
  const upstreamRetries = entries.filter(e => String(e.upstream_status).includes(',')).length
  for (const e of entries.filter(e => e.status >= 500)) {
    tt.comment(`nginx answered ${e.status}: ${e.method} ${e.uri} at ${String(e.time)}, upstream ${String(e.upstream_addr)} status ${e.upstream_status} after ${e.upstream_response_time} s`)
  }
  for (const line of (await fleet.nginx.errorLog()).split('\n').filter(line => / \[error\] /.test(line))) tt.comment(`nginx: ${line}`)
  tt.comment(`fleet: rolling restart: ${run.answers.length} requests through nginx (reads at ${RATE}/s, ${WRITERS} writers) (${JSON.stringify(statuses)}), ` +
    `non-2xx ${failed.length}, socket errors or timeouts ${result.errors}, writes checked ${result.acknowledged.size} ` +
    `(committed despite an error ${committedDespiteError}), nginx retries on the next upstream ${upstreamRetries}; ${figures.join('; ')}`)
})

t.test('PgBouncer restarted under load: 503 with Retry-After during the gap, nothing hangs, the fleet recovers by itself', async tt => {
  const pids = fleet.apis.map(api => api.process.pid)
  const run = load('pgbouncer')
  await sleep(2_000)
  const stoppedAt = Date.now()
  await fleet.pgbouncer.stop()
  await sleep(500)
  const during = await send(`${fleet.nginx.url}/v1/articles/${article.id}`, { headers: bearer(tenant.owner.token), timeoutMs: BUDGET_MS + 2_000 })
  tt.match(during, { status: 503, body: { code: 'unavailable' } }, 'a read during the gap: 503 unavailable')
  if ('headers' in during) tt.match(during.headers.get('retry-after'), /^\d+$/, 'with Retry-After')
  await sleep(2_500)
  await fleet.pgbouncer.start()
  const startedAt = Date.now()
  const recovered = await waitFor('a 2xx after PgBouncer is back', () => run.answers.find(a => a.at > startedAt && a.status < 300), 20_000, 50)
  await sleep(3_000)
  const result = await run.stop()

  const statuses = byStatus(run.answers)
  const unexpected = run.answers.filter(a => a.status >= 300 && a.status !== 503 && a.status !== 429)
  tt.same(unexpected.map(a => a.status), [], 'every answer 2xx or 503')
  tt.equal(result.errors, 0, 'no socket errors or client timeouts')
  const slowest = Math.max(...run.answers.map(a => a.latencyMs))
  tt.ok(slowest < BUDGET_MS + 1_000, `no answer took longer than the budget (slowest ${slowest} ms)`)
  const lateFailures = run.answers.filter(a => a.at > recovered.at + 1_000 && a.status >= 300)
  tt.same(lateFailures.map(a => a.status), [], 'from a second after the first success on, every answer is 2xx again')
  tt.same(fleet.apis.map(api => api.process.pid), pids, 'the same API processes: nothing was restarted')
  for (const api of fleet.apis) tt.equal((await send(`${api.url}/readyz`)).status, 200, `${api.name} ready again`)
  const committedDespiteError = await checkWrites(tt, result)
  tt.comment(`fleet: pgbouncer restart: ${run.answers.length} requests through nginx (reads at ${RATE}/s, ${WRITERS} writers) (${JSON.stringify(statuses)}), ` +
    `gap ${startedAt - stoppedAt} ms, first 2xx ${recovered.at - startedAt} ms after it was back, slowest answer ${slowest} ms, ` +
    `socket errors or timeouts ${result.errors}, writes checked ${result.acknowledged.size} (committed despite a 503 ${committedDespiteError})`)
})
