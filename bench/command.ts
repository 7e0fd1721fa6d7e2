import { spawn, spawnSync, type ChildProcess } from 'node:child_process'

const KEPT_OUTPUT_CHARS = 64_000
const KILL_GRACE_MS = 5_000

export interface CommandOutput {
  /** null when it was killed */
  code: number | null
  stdout: string
  stderr: string
}

const active = new Set<ChildProcess>()

/** Stops every command still running (the harness was interrupted). */
export function stopCommands (): void {
  for (const child of active) child.kill('SIGTERM')
}

/** Whether a program answers `<program> --version`; undefined when it does, else why not. */
export function missingProgram (program: string): string | undefined {
  const probe = spawnSync(program, ['--version'], { stdio: 'ignore', timeout: 10_000 })
  if (probe.error !== undefined) return `${program} could not be run (${(probe.error as NodeJS.ErrnoException).code ?? probe.error.message})`
  return probe.status === 0 ? undefined : `${program} --version exited with ${probe.status ?? probe.signal}`
}

/**
 * Runs a program to its end, killed after timeoutMs (SIGTERM, then SIGKILL), and gives the last
 * 64 kB of its output. Never rejects for a non-zero exit: the caller reads the code.
 */
export function runCommand (program: string, args: string[], timeoutMs: number): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    active.add(child)
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout = (stdout + chunk).slice(-KEPT_OUTPUT_CHARS) })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-KEPT_OUTPUT_CHARS) })
    const timer = setTimeout(() => {
      child.kill('SIGTERM')
      setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS).unref()
    }, timeoutMs)
    child.once('error', error => {
      clearTimeout(timer)
      active.delete(child)
      reject(error)
    })
    child.once('close', code => {
      clearTimeout(timer)
      active.delete(child)
      resolve({ code, stdout, stderr })
    })
  })
}
