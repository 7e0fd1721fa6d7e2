import { spawn, type ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Teardown } from './app.ts'
import { freeLoopbackPort, serviceProcess, type ServiceProcess } from './service-process.ts'

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

/** A redis-server in `dir` on a free port: a port found free can be taken before redis binds it, so a few tries. */
async function launchOnFreePort (dir: string): Promise<{ port: number, server: ServiceProcess }> {
  for (let attempt = 1; ; attempt++) {
    try {
      const port = await freeLoopbackPort()
      if (port === SHARED_REDIS_PORT) throw new Error('the free port found is the shared Redis port')
      const server = serviceProcess({
        label: `redis-server on port ${port}`,
        launch: () => spawnRedis(port, dir),
        ready: () => answersPing(port),
        outputKept: 4_000
      })
      await server.start()
      return { port, server }
    } catch (error) {
      if (attempt >= 3) throw error
    }
  }
}

/**
 * Starts a private redis-server (no persistence, loopback only) on a free port and stops it when
 * the test ends. The shared Redis on 6379 is never touched.
 */
export async function startPrivateRedis (t: Teardown): Promise<PrivateRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-redis-'))
  let pid: number | undefined
  // a test that crashes before its teardown still leaves no redis-server or directory behind
  const killOnExit = (): void => {
    try { if (pid !== undefined) process.kill(pid, 'SIGKILL') } catch {}
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', killOnExit)
  const removeAll = async (): Promise<void> => {
    process.removeListener('exit', killOnExit)
    await rm(dir, { recursive: true, force: true })
  }

  let launched: { port: number, server: ServiceProcess }
  try {
    launched = await launchOnFreePort(dir)
  } catch (error) {
    await removeAll()
    throw error
  }
  const { port, server } = launched
  pid = server.pid
  t.teardown(async () => {
    await server.stop('SIGKILL')
    await removeAll()
  })

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running () { return server.running },
    start: async () => {
      await server.start()
      pid = server.pid
    },
    stop: server.stop,
    pause: () => { server.signal('SIGSTOP') },
    resume: () => { server.signal('SIGCONT') }
  }
}
