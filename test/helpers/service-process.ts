import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer, type AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

const READY_TIMEOUT_MS = 5_000
const STOP_TIMEOUT_MS = 5_000

/** A loopback port nothing listens on right now. */
export async function freeLoopbackPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}

/** How to run one server process of a test's own (a redis-server, a PgBouncer) on a known port. */
export interface ServiceProcessOptions {
  /** names it in errors, e.g. `redis-server on port 6380` */
  label: string
  /** spawns the process; `group`: it was spawned detached, and signals go to its process group */
  launch: () => ChildProcess
  group?: boolean
  /** true once it serves (polled every 20 ms, for up to 5 s) */
  ready: () => Promise<boolean>
  /** characters of its stdout and stderr kept for error messages */
  outputKept: number
}

/** One such process, started and stopped as often as a test likes. */
export interface ServiceProcess {
  readonly running: boolean
  readonly pid: number | undefined
  /** starts it and resolves once `ready`; rejects with its output when it exits or is not ready in time */
  start: () => Promise<void>
  /** sends `signal` (SIGCONT after it, so that a paused process acts on it), SIGKILL after 5 s; resolves once it exited */
  stop: (signal?: NodeJS.Signals) => Promise<void>
  /** sends a signal to a running process (SIGSTOP to freeze it, SIGCONT to thaw it) */
  signal: (name: NodeJS.Signals) => void
  /** what it printed since it last started */
  output: () => string
}

/** Supervises a test's own server process: the start, wait and stop that every private service shares. */
export function serviceProcess (options: ServiceProcessOptions): ServiceProcess {
  let child: ChildProcess | undefined
  let output = ''

  const send = (process_: ChildProcess, name: NodeJS.Signals): void => {
    try {
      if (options.group === true && process_.pid !== undefined) process.kill(-process_.pid, name)
      else process_.kill(name)
    } catch {} // already gone
  }

  async function start (): Promise<void> {
    if (child !== undefined) throw new Error(`${options.label} is already running`)
    output = ''
    const launched = options.launch()
    child = launched
    const collect = (chunk: Buffer | string): void => { output = (output + chunk.toString()).slice(-options.outputKept) }
    launched.stdout?.on('data', collect)
    launched.stderr?.on('data', collect)
    const exited = new Promise<'exited'>(resolve => {
      const gone = (): void => {
        if (child === launched) child = undefined
        resolve('exited')
      }
      launched.once('exit', gone)
      launched.once('error', error => {
        collect(String(error))
        gone()
      })
    })
    const deadline = Date.now() + READY_TIMEOUT_MS
    while (Date.now() < deadline) {
      const state = await Promise.race([exited, options.ready().then(ok => ok ? 'ready' as const : 'waiting' as const)])
      if (state === 'ready') return
      if (state === 'exited') throw new Error(`${options.label} exited at start:\n${output}`)
      await sleep(20)
    }
    await stop('SIGKILL')
    throw new Error(`${options.label} was not ready within ${READY_TIMEOUT_MS} ms:\n${output}`)
  }

  async function stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const running = child
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return
    const exited = once(running, 'exit')
    send(running, signal)
    if (signal !== 'SIGKILL') send(running, 'SIGCONT')
    const timer = setTimeout(() => { send(running, 'SIGKILL') }, STOP_TIMEOUT_MS)
    try {
      await exited
    } finally {
      clearTimeout(timer)
      if (child === running) child = undefined
    }
  }

  return {
    get running () { return child !== undefined },
    get pid () { return child?.pid },
    start,
    stop,
    signal: name => {
      if (child === undefined) throw new Error(`${options.label} is not running`)
      send(child, name)
    },
    output: () => output
  }
}
