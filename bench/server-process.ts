import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { discardBacklog } from './backlog.ts'
import type { ReadyMessage } from './servers/serve.ts'
import { BenchError } from './settings.ts'
import type { BenchContext, ServerSpec } from './types.ts'

const repoRoot = fileURLToPath(new URL('..', import.meta.url))

const START_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 10_000
const STDERR_KEPT_CHARS = 4_000

export interface RunningServer {
  pid: number
  url: string
  /** VmHWM (peak resident set) in kB, undefined where /proc is not there */
  peakRssKb: () => number | undefined
  /** CPU time (user + system) the process has used so far, in µs; undefined where /proc is not there */
  cpuUs: () => number | undefined
  /** the last few kB the process wrote to stderr */
  stderrTail: () => string
  exited: () => boolean
  /** SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT_MS */
  stop: () => Promise<void>
}

const running = new Set<RunningServer>()

/** Every server still running: the harness stops them when interrupted. */
export function runningServers (): RunningServer[] {
  return [...running]
}

function readPeakRssKb (pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match?.[1] === undefined ? undefined : Number(match[1])
  } catch {
    return undefined
  }
}

/** Linux reports utime and stime in clock ticks of USER_HZ, which is 100 on every Linux ABI Node runs on */
const MICROSECONDS_PER_TICK = 10_000

function readCpuUs (pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th and 13th
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * MICROSECONDS_PER_TICK
  } catch {
    return undefined
  }
}

function waitForExit (child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true)
  return new Promise(resolve => {
    const timer = setTimeout(() => resolve(false), timeoutMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

/** The node binary the servers run on: BENCH_NODE (e.g. a Node 24 binary, as in the image), else this one. */
export function serverNode (): string {
  return process.env.BENCH_NODE ?? process.execPath
}

/**
 * Starts a compiled bench server with plain node (no loader) and a minimal environment, its stdout
 * (its logs) going to logPath, and waits until it listens. Its worker, when the spec has one,
 * starts first (logging next to logPath, with no backlog: bench/backlog.ts) and stops with it;
 * the figures are the server's own.
 */
export async function startServer (spec: ServerSpec, context: BenchContext, logPath: string): Promise<RunningServer> {
  if (spec.worker === undefined) return await startProcess(spec, context, logPath)
  await discardBacklog(context)
  const workerLog = logPath.replace(/(\.log)?$/, '-worker.log')
  const worker = await startProcess({ ...spec.worker, ...(spec.root === undefined ? {} : { root: spec.root }) }, context, workerLog)
  try {
    const server = await startProcess(spec, context, logPath)
    const stopServer = server.stop
    server.stop = async () => {
      await stopServer()
      await worker.stop()
      rmSync(workerLog, { force: true })
    }
    return server
  } catch (error) {
    await worker.stop()
    throw error
  }
}

/** one bench process, ready when it says so: a server once it listens (its url set), a worker once it runs */
async function startProcess (spec: ServerSpec, context: BenchContext, logPath: string): Promise<RunningServer> {
  const logFd = openSync(logPath, 'w')
  let child: ChildProcess
  try {
    const root = spec.root ?? repoRoot
    const command = [serverNode(), join(root, spec.script)]
    // nice execs the node it is given: the pid stays the process's own
    if (spec.niceness !== undefined) command.unshift('nice', '-n', String(spec.niceness))
    child = spawn(command[0] as string, command.slice(1), {
      cwd: root,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...spec.env?.(context) },
      stdio: ['ignore', logFd, 'pipe', 'ipc']
    })
  } finally {
    closeSync(logFd)
  }

  let stderr = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_KEPT_CHARS)
  })
  const exited = () => child.exitCode !== null || child.signalCode !== null

  const server: RunningServer = {
    pid: child.pid ?? -1,
    url: '',
    peakRssKb: () => readPeakRssKb(child.pid ?? -1),
    cpuUs: () => readCpuUs(child.pid ?? -1),
    stderrTail: () => stderr.trim(),
    exited,
    stop: async () => {
      if (!exited()) {
        child.kill('SIGTERM')
        if (!await waitForExit(child, STOP_TIMEOUT_MS)) {
          child.kill('SIGKILL')
          await waitForExit(child, STOP_TIMEOUT_MS)
        }
      }
      if (child.connected) child.disconnect()
      running.delete(server)
    }
  }
  running.add(server)

  try {
    const port = await new Promise<number | undefined>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`was not ready within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS)
      child.once('error', error => { clearTimeout(timer); reject(error) })
      child.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`exited (${signal ?? code}) before it was ready`)) })
      child.on('message', (message: ReadyMessage) => {
        clearTimeout(timer)
        resolve(message.type === 'listening' ? message.port : undefined)
      })
    })
    if (port !== undefined) server.url = `http://127.0.0.1:${port}`
    return server
  } catch (error) {
    await server.stop()
    // give stderr's last chunk a moment to arrive before quoting it
    await new Promise(resolve => setTimeout(resolve, 100))
    throw new BenchError(`${spec.name} server (${spec.script}) ${(error as Error).message}${stderr ? `:\n${stderr.trim()}` : ''}`)
  }
}
