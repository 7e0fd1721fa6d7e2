import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { Teardown } from './app.ts'
import { cleanupIfOrphaned } from './orphans.ts'
import { repoRoot } from './paths.ts'

export type LogLine = Record<string, unknown>

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  /** Date.now() when it exited */
  at: number
}

export interface ChildProcessHandle {
  readonly pid: number | undefined
  /** every stdout line so far, parsed as JSON (a line that is not JSON is kept as `{ text }`) */
  readonly lines: readonly LogLine[]
  /** resolves with the first line that matches, or rejects when the process exits or time is up */
  waitForLine: (what: string, matches: (line: LogLine) => boolean, timeoutMs?: number) => Promise<LogLine>
  readonly exited: Promise<Exit>
  /** the exit, or undefined if the process is still running after timeoutMs */
  exitWithin: (timeoutMs: number) => Promise<Exit | undefined>
  kill: (signal: NodeJS.Signals) => void
  stderr: () => string
}

/**
 * A TypeScript entry of the repository (`src/server.ts`, a fixture) run as its own process through
 * tsx, its stdout read as JSON log lines. Killed (SIGKILL) when the test ends, if still running,
 * or when the test process dies without its teardown.
 */
export function spawnEntry (t: Teardown, entry: string, env: Record<string, string>, defaultWaitMs = 15_000): ChildProcessHandle {
  return spawnNode(t, ['--import', 'tsx', entry], env, defaultWaitMs)
}

/**
 * `node <args>` in the repository (a compiled entry: `dist/src/server.js`), like spawnEntry: its
 * stdout read as JSON lines, killed (SIGKILL) at the end of the test or when the test process dies.
 */
export function spawnNode (t: Teardown, args: string[], env: Record<string, string>, defaultWaitMs = 15_000): ChildProcessHandle {
  const entry = args.join(' ')
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let hasExited = false
  const exited = new Promise<Exit>(resolve => {
    child.once('close', (code, signal) => {
      hasExited = true
      resolve({ code, signal, at: Date.now() })
    })
  })
  // an idle server whose test was killed would run on, nobody reading its output
  const cancelWatchdog = cleanupIfOrphaned(`kill -KILL ${String(child.pid)} 2>/dev/null`)
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
    cancelWatchdog()
  })

  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  const lines: LogLine[] = []
  const waiters = new Set<() => void>()
  createInterface({ input: child.stdout }).on('line', text => {
    try {
      lines.push(JSON.parse(text) as LogLine)
    } catch {
      lines.push({ text })
    }
    for (const wake of waiters) wake()
  })

  async function waitForLine (what: string, matches: (line: LogLine) => boolean, timeoutMs = defaultWaitMs): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = lines.find(matches)
      if (found !== undefined) return found
      const left = deadline - Date.now()
      if (left <= 0 || hasExited) {
        // the process logs to stdout: when it exits without a word on stderr, its last lines say why
        const lastLines = lines.slice(-10).map(line => JSON.stringify(line)).join('\n')
        throw new Error(`no "${what}" from ${entry} (${hasExited ? 'it exited' : `within ${timeoutMs} ms`}); stderr:\n${stderr}\nlast stdout lines:\n${lastLines}`)
      }
      await new Promise<void>(resolve => {
        const wake = (): void => { clearTimeout(timer); waiters.delete(wake); resolve() }
        const timer = setTimeout(wake, left)
        waiters.add(wake)
        exited.then(wake, wake)
      })
    }
  }

  async function exitWithin (timeoutMs: number): Promise<Exit | undefined> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<undefined>(resolve => { timer = setTimeout(resolve, timeoutMs, undefined) })
    try {
      return await Promise.race([exited, late])
    } finally {
      clearTimeout(timer)
    }
  }

  return { pid: child.pid, lines, waitForLine, exited, exitWithin, kill: signal => child.kill(signal), stderr: () => stderr }
}
