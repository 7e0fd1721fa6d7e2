import t from 'tap'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { spawnEntry, type ChildProcessHandle, type LogLine } from './helpers/child.ts'
import { createTestDatabase } from './helpers/database.ts'
import { call, type Answer } from './helpers/http-client.ts'
import { startPrivateRedis } from './helpers/redis-server.ts'

const SHUTDOWN_DELAY_MS = 800
// long enough that a loaded machine still sees it in flight after the delay, within the grace
const SLOW_ROUTE_MS = 4_000
// start-up through tsx takes 9 s and more when the 2 cores are shared with other suites
const WAIT_MS = 30_000

const db = await createTestDatabase()
t.teardown(() => db.drop())
const redis = await startPrivateRedis(t)

/** The fixture server as a child process, its stdout read as JSON lines. */
function startSlowServer (): ChildProcessHandle {
  return spawnEntry(t, 'test/fixtures/slow-server.ts', {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: db.runtimeUrl,
    REDIS_URL: redis.url,
    REDIS_PREFIX: `atrium-test:${randomBytes(4).toString('hex')}:`,
    SHUTDOWN_DELAY_MS: String(SHUTDOWN_DELAY_MS),
    SHUTDOWN_GRACE_MS: '8000',
    SLOW_ROUTE_MS: String(SLOW_ROUTE_MS)
  }, WAIT_MS)
}

/** One GET on a fresh connection (no keep-alive pool), bounded by a timeout. */
const get = async (port: number, path: string): Promise<Answer> => await call(`http://127.0.0.1:${port}`, { method: 'GET', path, timeoutMs: WAIT_MS })

const isMessage = (message: string) => (line: LogLine): boolean => line.msg === message

t.test('SIGTERM during a slow request: readiness off, stop accepting, the request finishes, exit 0', async tt => {
  const server = startSlowServer()
  const { listening } = await server.waitForLine('listening', line => typeof line.listening === 'number')
  const port = listening as number

  let ready = await get(port, '/readyz')
  for (let tries = 0; 'status' in ready && ready.status !== 200 && tries < 50; tries++) {
    await sleep(50)
    ready = await get(port, '/readyz')
  }
  tt.match(ready, { status: 200 }, 'ready before the signal')

  const slow = get(port, '/slow')
  await server.waitForLine('slow request started', isMessage('slow request started'))
  server.kill('SIGTERM')

  await server.waitForLine('readiness off', isMessage('shutting down: readiness off'))
  const draining = await get(port, '/readyz')
  tt.match(draining, { status: 503 }, `/readyz is 503 during the ${SHUTDOWN_DELAY_MS} ms shutdown delay`)
  if ('body' in draining) {
    tt.match(JSON.parse(draining.body), { status: 'unavailable', checks: { postgres: 'ok', redis: 'ok' } })
  }

  await server.waitForLine('stop accepting', isMessage('shutting down: no new connections, finishing in-flight requests'))
  // The server stops accepting a few ticks after that line: poll new connections until one is
  // turned away, which must happen while the slow request is still in flight.
  const slowState = { done: false }
  slow.then(() => { slowState.done = true }, () => {})
  let turnedAway: Answer | undefined
  while (!slowState.done && turnedAway === undefined) {
    const answer = await get(port, '/healthz')
    if ('error' in answer || answer.status === 503) turnedAway = answer
    else await sleep(10)
  }
  tt.ok(turnedAway, 'a new connection is turned away while the slow request is still in flight')
  tt.notOk(slowState.done, 'the slow request was still in flight when new connections were turned away')
  tt.ok(turnedAway !== undefined && ('error' in turnedAway ? /^(ECONNREFUSED|ECONNRESET)$/.test(turnedAway.error) : turnedAway.status === 503),
    `refused or 503 (${JSON.stringify(turnedAway)})`)

  const finished = await slow
  tt.same(finished, { status: 200, body: JSON.stringify({ finished: true }) }, 'the in-flight request finishes with 200')

  const exit = await server.exited
  tt.same({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, 'the process exits 0')
  await server.waitForLine('shut down cleanly', isMessage('shut down cleanly'))
  tt.equal(server.stderr(), '', 'nothing on stderr')
})
