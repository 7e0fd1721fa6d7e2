import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ensureDatabase, migrate } from '../../src/platform/db/migrate.ts'
import type { Teardown } from '../../test/helpers/app.ts'
import { freeLoopbackPort } from '../../test/helpers/service-process.ts'
import { cleanupIfOrphaned, shellQuote } from '../../test/helpers/orphans.ts'

const run = promisify(execFile)
const COMMAND_TIMEOUT_MS = 30_000
const SHARED_POSTGRES_PORT = 5432
const DATABASE = 'atrium'
export const RUNTIME_ROLE = 'atrium_app'

/** A PostgreSQL cluster of the test's own: free to stop (even crash) and start again. */
export interface PrivatePostgres {
  readonly port: number
  /** the cluster's superuser `postgres` on database `atrium`: the migrations' owner */
  readonly ownerUrl: string
  /** the runtime role on database `atrium` (row-level security applies) */
  readonly runtimeUrl: string
  readonly running: boolean
  /** starts it again on the same port, resolving once it accepts connections */
  start: () => Promise<void>
  /** `immediate` kills it like a crash (no checkpoint, connections cut); `fast` is a clean stop */
  stop: (mode?: 'fast' | 'immediate') => Promise<void>
  /** the server log so far (for a failure message) */
  log: () => Promise<string>
}

/** Debian keeps the server binaries out of PATH: the newest /usr/lib/postgresql/<v>/bin, else PATH. */
function binary (name: string): string {
  const explicit = process.env.PG_BIN_DIR
  if (explicit !== undefined && explicit !== '') return join(explicit, name)
  const root = '/usr/lib/postgresql'
  if (existsSync(root)) {
    const versions = readdirSync(root).filter(v => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))
    for (const version of versions) {
      const candidate = join(root, version, 'bin', name)
      if (existsSync(candidate)) return candidate
    }
  }
  return name
}

const asRoot = process.getuid?.() === 0

/** initdb and pg_ctl refuse to run as root: under root they run as the `postgres` system user. */
function postgresTool (name: string, args: string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', 'postgres', '--', binary(name), ...args]] : [binary(name), args]
}

async function runPostgresTool (name: string, args: string[], cwd: string): Promise<string> {
  const [file, argv] = postgresTool(name, args)
  const { stdout } = await run(file, argv, { timeout: COMMAND_TIMEOUT_MS, cwd })
  return stdout
}

function postmasterPid (dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n', 1)[0])
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/**
 * initdb's a throwaway cluster in a temp folder (trust auth, fsync off, socket in the folder),
 * starts it on a free loopback port, creates and migrates database `atrium` (owner `postgres`,
 * runtime role atrium_app), and removes it all when the test ends. The shared cluster on 5432
 * is never touched.
 */
export async function startPrivatePostgres (t: Teardown): Promise<PrivatePostgres> {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-pg-'))
  const dataDir = join(dir, 'data')
  const logFile = join(dir, 'postgres.log')
  let port = 0
  let running = false
  let pid: number | undefined

  // pg_ctl leaves the server running on its own: a test process that dies before its teardown
  // (an uncaught error, or a signal no handler sees) must leave no server or folder behind
  const killOnExit = (): void => {
    if (pid !== undefined) {
      try { process.kill(pid, 'SIGQUIT') } catch {}
    }
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', killOnExit)
  const [stopFile, stopArgs] = postgresTool('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop'])
  const cancelWatchdog = cleanupIfOrphaned(
    `cd / && ${[stopFile, ...stopArgs].map(shellQuote).join(' ')} >/dev/null 2>&1; rm -rf ${shellQuote(dir)}`)

  async function start (): Promise<void> {
    if (running) throw new Error(`private postgres on port ${port} is already running`)
    await runPostgresTool('pg_ctl', [
      '-D', dataDir, '-l', logFile, '-w', '-t', '20',
      '-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c max_connections=100`,
      'start'
    ], dir)
    running = true
    pid = postmasterPid(dataDir)
  }

  async function stop (mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!running) return
    await runPostgresTool('pg_ctl', ['-D', dataDir, '-m', mode, '-w', '-t', '20', 'stop'], dir)
    running = false
    pid = undefined
  }

  const teardown = async (): Promise<void> => {
    await stop('immediate').catch(() => {
      if (pid !== undefined) try { process.kill(pid, 'SIGQUIT') } catch {}
    })
    process.removeListener('exit', killOnExit)
    await rm(dir, { recursive: true, force: true })
    cancelWatchdog()
  }

  try {
    if (asRoot) await run('chown', ['postgres:', dir], { timeout: COMMAND_TIMEOUT_MS })
    await runPostgresTool('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync'], dir)
    // a port found free can be taken before the server binds it: try a few
    for (let attempt = 1; !running; attempt++) {
      port = await freeLoopbackPort()
      if (port === SHARED_POSTGRES_PORT) continue
      try {
        await start()
      } catch (error) {
        if (attempt >= 3) throw error
      }
    }
  } catch (error) {
    const log = await readFile(logFile, 'utf8').catch(() => '')
    await teardown()
    throw new Error(`private postgres did not start: ${(error as Error).message}\n${log}`)
  }
  t.teardown(teardown)

  const base = `postgres://postgres@127.0.0.1:${port}/${DATABASE}`
  const runtimeUrl = `postgres://${RUNTIME_ROLE}@127.0.0.1:${port}/${DATABASE}`
  await ensureDatabase(base)
  await migrate({ ownerUrl: base, runtimeUrl, statementTimeoutMs: 30_000 })

  return {
    port,
    ownerUrl: base,
    runtimeUrl,
    get running () { return running },
    start,
    stop,
    log: async () => await readFile(logFile, 'utf8').catch(() => '')
  }
}
