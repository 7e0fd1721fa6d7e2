import t from 'tap'
import { spawn } from 'node:child_process'
import { request } from 'node:http'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { createTestDatabase } from './helpers/database.ts'
import { startPrivateRedis } from './helpers/redis-server.ts'

const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const SHUTDOWN_DELAY_MS = 800
const SLOW_ROUTE_MS = 1_500
const WAIT_MS = 10_000

const db = await createTestDatabase()
t.teardown(() => db.drop())
const redis = await startPrivateRedis(t)

type Line = Record<string, unknown>

/** The fixture server as a child process, its stdout read as JSON lines. */
function startSlowServer (): {
  waitForLine: (what: string, matches: (line: Line) => boolean) => Promise<Line>
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  kill: (signal: NodeJS.Signals) => void
  stderr: () => string
} {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/slow-server.ts'], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATABASE_URL: db.runtimeUrl,
      REDIS_URL: redis.url,
      REDIS_PREFIX: `atrium-test:${randomBytes(4).toString('hex')}:`,
      SHUTDOWN_DELAY_MS: String(SHUTDOWN_DELAY_MS),
      SHUTDOWN_GRACE_MS: '5000',
      SLOW_ROUTE_MS: String(SLOW_ROUTE_MS)
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let hasExited = false
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => {
    child.once('close', (code, signal) => {
      hasExited = true
      resolve({ code, signal })
    })
  })
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })

  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  const lines: Line[] = []
  const waiters = new Set<() => void>()
  createInterface({ input: child.stdout }).on('line', text => {
    try {
      lines.push(JSON.parse(text) as Line)
    } catch {
      lines.push({ text })
    }
    for (const wake of waiters) wake()
  })

  async function waitForLine (what: string, matches: (line: Line) => boolean): Promise<Line> {
    const deadline = Date.now() + WAIT_MS
    for (;;) {
      const found = lines.find(matches)
      if (found !== undefined) return found
      const left = deadline - Date.now()
      if (left <= 0 || hasExited) {
        throw new Error(`no "${what}" from the server (${hasExited ? 'it exited' : `within ${WAIT_MS} ms`}); stderr:\n${stderr}`)
      }
      await new Promise<void>(resolve => {
        const wake = (): void => { clearTimeout(timer); waiters.delete(wake); resolve() }
        const timer = setTimeout(wake, left)
        waiters.add(wake)
        exited.then(wake, wake)
      })
    }
  }

  return { waitForLine, exited, kill: signal => child.kill(signal), stderr: () => stderr }
}

type Answer = { status: number, body: string } | { error: string }

/** One GET on a fresh connection (no keep-alive pool), bounded by a timeout. */
async function get (port: number, path: string): Promise<Answer> {
  return await new Promise(resolve => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: WAIT_MS }, response => {
      let body = ''
      response.on('data', (chunk: Buffer) => { body += chunk.toString('utf8') })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
      response.on('error', error => resolve({ error: (error as NodeJS.ErrnoException).code ?? error.message }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', error => resolve({ error: (error as NodeJS.ErrnoException).code ?? error.message }))
    req.end()
  })
}

const isMessage = (message: string) => (line: Line): boolean => line.msg === message

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
  tt.same(exit, { code: 0, signal: null }, 'the process exits 0')
  await server.waitForLine('shut down cleanly', isMessage('shut down cleanly'))
  tt.equal(server.stderr(), '', 'nothing on stderr')
})
