import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Teardown } from './app.ts'

const READY_TIMEOUT_MS = 5_000
const STOP_TIMEOUT_MS = 5_000
const SHARED_REDIS_PORT = 6379

/** A redis-server of the test's own, on a loopback port nobody else uses: free to stop and restart. */
export interface PrivateRedis {
  readonly port: number
  /** redis://127.0.0.1:<port> */
  readonly url: string
  readonly running: boolean
  /** starts it again on the same port, resolving once it answers PING */
  start: () => Promise<void>
  /** kills it (SIGTERM by default, SIGKILL for a crash) and resolves once the process has exited */
  stop: (signal?: NodeJS.Signals) => Promise<void>
  /** freezes it (SIGSTOP): connections stay open but nothing is answered, like a hung server */
  pause: () => void
  /** thaws a paused server (SIGCONT) */
  resume: () => void
}

async function freeLoopbackPort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  await once(server, 'close')
  if (address === null || typeof address === 'string') throw new Error('no TCP address for the probe server')
  return address.port
}

/** One PING over a raw socket: true when the server answers +PONG within the timeout. */
async function answersPing (port: number, timeoutMs = 500): Promise<boolean> {
  return await new Promise(resolve => {
    const socket = createConnection({ host: '127.0.0.1', port })
    let answer = ''
    const finish = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => finish(false))
    socket.on('error', () => finish(false))
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', chunk => {
      answer += chunk.toString('utf8')
      if (answer.includes('\r\n')) finish(answer.startsWith('+PONG'))
    })
  })
}

function spawnRedis (port: number, dir: string): ChildProcess {
  return spawn('redis-server', [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--dir', dir,
    '--logfile', ''
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
}

/**
 * Starts a private redis-server (no persistence, loopback only) on a free port and stops it when
 * the test ends. The shared Redis on 6379 is never touched.
 */
export async function startPrivateRedis (t: Teardown): Promise<PrivateRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-redis-'))
  let child: ChildProcess | undefined
  let output = ''
  let port = 0

  // a test that crashes before its teardown still leaves no redis-server or directory behind
  const killOnExit = (): void => {
    child?.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', killOnExit)

  async function launch (): Promise<void> {
    if (child !== undefined) throw new Error(`private redis on port ${port} is already running`)
    output = ''
    const launched = spawnRedis(port, dir)
    child = launched
    const collect = (chunk: Buffer): void => { output = (output + chunk.toString('utf8')).slice(-4_000) }
    launched.stdout?.on('data', collect)
    launched.stderr?.on('data', collect)
    const exited = new Promise<'exited'>(resolve => {
      const gone = (): void => {
        if (child === launched) child = undefined
        resolve('exited')
      }
      launched.once('exit', gone)
      launched.once('error', error => {
        collect(Buffer.from(String(error)))
        gone()
      })
    })
    const deadline = Date.now() + READY_TIMEOUT_MS
    while (Date.now() < deadline) {
      const state = await Promise.race([exited, answersPing(port).then(ok => ok ? 'ready' as const : 'waiting' as const)])
      if (state === 'ready') return
      if (state === 'exited') throw new Error(`redis-server on port ${port} exited at start:\n${output}`)
      await sleep(20)
    }
    await stop('SIGKILL')
    throw new Error(`redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms:\n${output}`)
  }

  async function stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const running = child
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return
    const exited = once(running, 'exit')
    running.kill(signal)
    if (signal !== 'SIGKILL') running.kill('SIGCONT') // a paused server must wake to act on it
    const timer = setTimeout(() => running.kill('SIGKILL'), STOP_TIMEOUT_MS)
    try {
      await exited
    } finally {
      clearTimeout(timer)
      if (child === running) child = undefined
    }
  }

  // A port found free can be taken before redis binds it: try a few.
  for (let attempt = 1; child === undefined; attempt++) {
    try {
      port = await freeLoopbackPort()
      if (port === SHARED_REDIS_PORT) throw new Error('the free port found is the shared Redis port')
      await launch()
    } catch (error) {
      if (attempt >= 3) {
        process.removeListener('exit', killOnExit)
        await rm(dir, { recursive: true, force: true })
        throw error
      }
    }
  }

  function signal (name: NodeJS.Signals): void {
    if (child === undefined) throw new Error(`private redis on port ${port} is not running`)
    child.kill(name)
  }

  t.teardown(async () => {
    await stop('SIGKILL')
    process.removeListener('exit', killOnExit)
    await rm(dir, { recursive: true, force: true })
  })

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running () { return child !== undefined },
    start: launch,
    stop,
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT')
  }
}
