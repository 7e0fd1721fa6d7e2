import t from 'tap'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'
import { createSql } from '../src/platform/db/client.ts'
import { productionEnv } from '../test/helpers/app.ts'
import { freeLoopbackPort } from '../test/helpers/service-process.ts'
import { startPrivateRedis } from '../test/helpers/redis-server.ts'
import { withSql } from '../test/helpers/sql.ts'
import { bearer, PASSWORD } from '../test/helpers/users.ts'
import { spawnEntry, type LogLine } from '../test/helpers/child.ts'
import { call, expectJson, trickle, type Answer } from '../test/helpers/http-client.ts'
import { shutdownRedisIfOrphaned } from '../test/helpers/orphans.ts'
import { checkArticles } from './helpers/articles.ts'
import { summaryLine } from './helpers/load.ts'
import { startPrivatePostgres } from './helpers/postgres-cluster.ts'

/** Readiness is off this long before the server stops accepting: the balancer's time to stop sending. */
const SHUTDOWN_DELAY_MS = 2_500
const SHUTDOWN_GRACE_MS = 10_000
const CONNECTIONS = 8
/**
 * The load: AMOUNT requests at most RATE a second (3 s or more); SIGTERM goes when all but TAIL are
 * answered, so requests are in flight on every connection at that moment and the rest are sent
 * during the shutdown delay, however fast this machine is, as a balancer still sends for a moment
 * until it sees readiness fail.
 */
const RATE = 400
const AMOUNT = 1_200
const TAIL = CONNECTIONS * 6

const pg = await startPrivatePostgres(t)
const redis = await startPrivateRedis(t)
shutdownRedisIfOrphaned(t, redis.port)
// the article schedule (whose job the worker runs at SIGTERM) is behind this flag: on for everyone
await withSql(pg.ownerUrl, sql => sql`update feature_flags set enabled = true, percentage = 100 where key = 'scheduled-publishing'`)
const port = await freeLoopbackPort()
const baseUrl = `http://127.0.0.1:${port}`

const server = spawnEntry(t, 'src/server.ts', productionEnv({ database: pg.runtimeUrl, redis: redis.url }, 'atrium-faults', {
  ROLE: 'all',
  PORT: String(port),
  SHUTDOWN_DELAY_MS: String(SHUTDOWN_DELAY_MS),
  SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS),
  // the job held up at SIGTERM waits on a row lock: long enough to outlast the shutdown delay
  LOCK_TIMEOUT_MS: '15000',
  AUTH_RATE_LIMIT_PER_IP: '1000'
}))
const isMessage = (prefix: string) => (line: LogLine): boolean => typeof line.msg === 'string' && line.msg.startsWith(prefix)

interface Poll { startedAt: number, endedAt: number, answer: Answer }

/** GET /readyz on a fresh connection every 50 ms until stopped or the process is gone. */
function pollReadiness (): { polls: Poll[], stop: () => Promise<void> } {
  const polls: Poll[] = []
  const state = { stopped: false }
  const until = Date.now() + 60_000
  const running = (async () => {
    while (!state.stopped && Date.now() < until) {
      const startedAt = Date.now()
      const answer = await call(baseUrl, { method: 'GET', path: '/readyz', timeoutMs: 3_000 })
      polls.push({ startedAt, endedAt: Date.now(), answer })
      await sleep(50)
    }
  })()
  return { polls, stop: async () => { state.stopped = true; await running } }
}

/** A user, a tenant it owns, and an access token bound to it, made over HTTP. */
async function ownerToken (): Promise<{ token: string, tenantId: string }> {
  const email = `owner-${randomBytes(5).toString('hex')}@example.test`
  await expectJson(baseUrl, 201, { method: 'POST', path: '/v1/auth/register', body: { email, password: PASSWORD, name: 'Owner' } })
  const { access_token: first } = await expectJson<{ access_token: string }>(baseUrl, 200, { method: 'POST', path: '/v1/auth/login', body: { email, password: PASSWORD } })
  const slug = `sigterm-${randomBytes(4).toString('hex')}`
  const { tenant } = await expectJson<{ tenant: { id: string } }>(baseUrl, 201, {
    method: 'POST', path: '/v1/tenants', headers: bearer(first), body: { slug, name: 'SIGTERM' }
  })
  const { access_token: token } = await expectJson<{ access_token: string }>(baseUrl, 200, {
    method: 'POST', path: '/v1/auth/login', body: { email, password: PASSWORD, tenant: slug }
  })
  return { token, tenantId: tenant.id }
}

t.test('SIGTERM under load: readiness 503 first, in-flight requests and the running job finish, exit 0', async tt => {
  await server.waitForLine('listening', isMessage('Atrium API listening on'))
  await server.waitForLine('worker started', isMessage('worker started'))
  const { token, tenantId } = await ownerToken()
  const auth = bearer(token)
  const sent = new Set<string>()
  const acknowledged = new Map<string, string>()
  const errored = new Set<string>()

  // A job running at SIGTERM: an article's scheduled publication, held up on a row lock we keep.
  sent.add('sigterm-slow-job')
  const { article: slow } = await expectJson<{ article: { id: string } }>(baseUrl, 201, {
    method: 'POST', path: '/v1/articles', headers: auth, body: { title: 'sigterm-slow-job' }
  })
  acknowledged.set('sigterm-slow-job', slow.id)
  await expectJson(baseUrl, 200, {
    method: 'POST', path: `/v1/articles/${slow.id}/schedule`, headers: auth, body: { publish_at: new Date(Date.now() + 1_000).toISOString() }
  })
  const owner = createSql(pg.ownerUrl, { max: 2 }) // one held by the lock, one to watch the job
  tt.teardown(() => owner.end({ timeout: 5 }))
  const locker = await owner.reserve()
  await locker`begin`
  await locker`select 1 from articles where id = ${slow.id} for update`
  const [{ pid: lockerPid } = { pid: 0 }] = await locker<Array<{ pid: number }>>`select pg_backend_pid() as pid`
  const lock = { held: true }
  const releaseLock = async (): Promise<void> => {
    if (!lock.held) return
    lock.held = false
    await locker`rollback`
    locker.release()
  }
  tt.teardown(releaseLock)
  const jobBlocked = async (): Promise<boolean> => {
    const rows = await owner`select 1 from pg_stat_activity
      where usename = 'atrium_app' and ${lockerPid}::integer = any(pg_blocking_pids(pid))`
    return rows.length > 0
  }
  for (const deadline = Date.now() + 15_000; !(await jobBlocked());) {
    if (Date.now() > deadline) throw new Error('the publishing job never started (or never reached the locked row)')
    await sleep(50)
  }
  tt.pass('the publishing job is running (waiting on the locked article) before SIGTERM')

  const readiness = pollReadiness()
  tt.teardown(readiness.stop)
  await sleep(200)

  let n = 0
  let instance: autocannon.Instance | undefined
  const load = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon({
      url: baseUrl,
      connections: CONNECTIONS,
      pipelining: 1,
      amount: AMOUNT,
      overallRate: RATE,
      timeout: 10,
      headers: { ...auth, 'content-type': 'application/json' },
      requests: [
        { method: 'GET', path: '/v1/articles?limit=5' },
        {
          method: 'POST',
          path: '/v1/articles',
          setupRequest: request => {
            const title = `sigterm-load-${n++}`
            sent.add(title)
            return { ...request, body: JSON.stringify({ title }) }
          },
          onResponse: (status, body) => {
            if (status !== 201) return
            const { article } = JSON.parse(body) as { article: { id: string, title: string } }
            acknowledged.set(article.title, article.id)
          }
        }
      ]
    }, (error, result) => error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(result))
  })

  tt.teardown(() => instance?.stop())
  let answered = 0
  const signalled = new Promise<number>(resolve => {
    instance?.on('response', () => {
      if (++answered !== AMOUNT - TAIL) return
      server.kill('SIGTERM')
      resolve(Date.now())
    })
  })
  const sigtermAt = await Promise.race([signalled, load.then(() => undefined)])
  if (sigtermAt === undefined) throw new Error(`the load ended before ${AMOUNT - TAIL} answers`)
  await server.waitForLine('readiness off', isMessage('shutting down: readiness off'))
  const result = await load
  const loadEndedAt = Date.now()

  // A request in flight when the server stops accepting: headers and half the body before, the rest after.
  const stopAccepting = server.waitForLine('stop accepting', isMessage('shutting down: no new connections'), SHUTDOWN_DELAY_MS + 5_000)
  sent.add('sigterm-in-flight')
  const inFlight = trickle(baseUrl, '/v1/articles', auth, { title: 'sigterm-in-flight' }, stopAccepting.then(() => sleep(300)))
  // the server's own clock (the same machine's): the moment it began to close
  const stopAcceptingAt = Number((await stopAccepting).time) // pino writes epoch milliseconds
  const inFlightAnswer = await inFlight
  tt.match(inFlightAnswer, { status: 201 }, 'a request in flight when the server stopped accepting finished with 201')
  if ('status' in inFlightAnswer && inFlightAnswer.status === 201) {
    const { article } = JSON.parse(inFlightAnswer.body) as { article: { id: string } }
    acknowledged.set('sigterm-in-flight', article.id)
  } else {
    errored.add('sigterm-in-flight')
  }
  // the job can finish now: the worker must have waited for it
  await sleep(500)
  await releaseLock()

  const exit = await server.exitWithin(SHUTDOWN_DELAY_MS + SHUTDOWN_GRACE_MS + 5_000)
  await readiness.stop()
  tt.ok(exit, 'the process exited')
  tt.match(exit, { code: 0, signal: null }, 'with code 0')
  const exitAfterMs = exit === undefined ? Number.NaN : exit.at - sigtermAt
  tt.ok(exitAfterMs <= SHUTDOWN_DELAY_MS + SHUTDOWN_GRACE_MS, `within the grace period (${exitAfterMs} ms after SIGTERM)`)
  tt.ok(server.lines.some(isMessage('shut down cleanly')), 'it logged a clean shutdown')
  tt.equal(server.stderr(), '', 'nothing on stderr')

  // readiness: 200 before, 503 (draining) from SIGTERM on, then refused once it stopped accepting
  const before = readiness.polls.filter(p => p.endedAt < sigtermAt)
  const after = readiness.polls.filter(p => p.startedAt >= sigtermAt + 100)
  tt.ok(before.length > 0 && before.every(p => 'status' in p.answer && p.answer.status === 200), `/readyz 200 before SIGTERM (${before.length} polls)`)
  const isDraining = (p: Poll): boolean => 'status' in p.answer && p.answer.status === 503 &&
    (JSON.parse(p.answer.body) as { draining?: boolean }).draining === true
  const inDelay = after.filter(p => p.endedAt < stopAcceptingAt)
  tt.ok(inDelay.length > 0, `/readyz polled during the shutdown delay (${inDelay.length} polls)`)
  tt.same(inDelay.filter(p => !isDraining(p)).map(p => p.answer), [], 'each answered 503 draining while the server still served')
  const draining = after.filter(isDraining)
  // once closing, a poll is refused, or answered 503 by Fastify if its connection was already open
  tt.same(after.filter(p => 'status' in p.answer && p.answer.status !== 503).map(p => p.answer), [], 'never ready again after SIGTERM')
  tt.ok(loadEndedAt < sigtermAt + SHUTDOWN_DELAY_MS, 'the load ended inside the shutdown delay, as a balancer stops sending once readiness fails')

  // the load: every request answered, 2xx, no connection error (a reset would count here)
  tt.equal(result.errors, 0, 'autocannon: no connection errors or resets')
  tt.equal(result.timeouts, 0, 'autocannon: no timeouts')
  tt.equal(result.non2xx, 0, 'autocannon: no non-2xx answer')
  tt.equal(result['2xx'], AMOUNT, `autocannon: all ${AMOUNT} requests answered 2xx`)

  const check = await checkArticles(pg.ownerUrl, tenantId, { acknowledged, errored, sent })
  tt.same(check.lost, [], 'every acknowledged article exists exactly once')
  tt.equal(check.halfWritten, 0, 'every article has its one "created" audit entry')
  tt.same(check.unknown, [], 'no article that was never sent')
  tt.equal(check.stored, acknowledged.size, 'no article was written without its client being told')

  const [job] = await withSql(pg.ownerUrl, sql => sql<Array<{ status: string, audits: number }>>`
    select a.status, (select count(*)::int from audit_log l where l.tenant_id = a.tenant_id and l.object_id = a.id::text
      and l.action = 'published' and l.actor_id is null) as audits
    from articles a where a.id = ${slow.id}`)
  tt.same(job, { status: 'published', audits: 1 }, 'the job running at SIGTERM finished before the worker exited: published once')

  const readinessErrors = after.filter(p => 'error' in p.answer).length
  tt.comment(summaryLine('sigterm', [
    ['sent', AMOUNT + 1],
    ['ok', result['2xx'] + (acknowledged.has('sigterm-in-flight') ? 1 : 0)],
    ['non2xx', result.non2xx],
    ['errors', result.errors],
    ['answered_after_sigterm', TAIL],
    ['in_flight_at_close', 1],
    ['load_s', result.duration],
    ['readyz_503_polls', draining.length],
    ['readyz_refused_polls', readinessErrors],
    ['exit_code', exit?.code ?? 'none'],
    ['exit_after_ms', exitAfterMs],
    ['running_job', job?.status === 'published' ? 'finished' : 'lost'],
    ['rows_checked', check.rowsChecked + 1],
    ['lost', check.lost.length],
    ['half_written', check.halfWritten]
  ]))
})
