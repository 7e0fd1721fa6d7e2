import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { rmSync } from 'node:fs'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Teardown } from '../../test/helpers/app.ts'
import { freeLoopbackPort } from '../../test/helpers/nginx.ts'
import { cleanupIfOrphaned, shellQuote } from '../../test/helpers/orphans.ts'
import { adaptPgbouncerConfig } from '../../bench/servers/pgbouncer.ts'

export const productionPgbouncerConfig = fileURLToPath(new URL('../../deploy/pgbouncer/pgbouncer.ini', import.meta.url))
const READY_TIMEOUT_MS = 5_000
const STOP_TIMEOUT_MS = 5_000

/** A PgBouncer of the test's own in front of a PostgreSQL on loopback: free to stop and start again. */
export interface PrivatePgbouncer {
  readonly port: number
  /** the runtime role through PgBouncer, on `database` */
  readonly runtimeUrl: string
  readonly running: boolean
  start: () => Promise<void>
  /** SIGTERM: PgBouncer 1.18 exits at once, cutting every client and server connection */
  stop: () => Promise<void>
  /** what it logged (stderr) since it last started */
  log: () => string
}

/** True when something accepts a TCP connection on the port. */
async function accepts (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const socket = createConnection({ host: '127.0.0.1', port })
    const finish = (ok: boolean): void => { socket.destroy(); resolve(ok) }
    socket.setTimeout(500, () => finish(false))
    socket.once('connect', () => finish(true))
    socket.once('error', () => finish(false))
  })
}

/** PgBouncer refuses to run as root: under root it runs as the `postgres` system user. */
const asRoot = process.getuid?.() === 0

/**
 * Starts pgbouncer (deploy/pgbouncer/pgbouncer.ini, adapted) on a free loopback port in front of
 * the PostgreSQL on `postgresPort`, for `database` as `user`; stopped and its folder removed when
 * the test ends, or when the test process dies.
 */
export async function startPrivatePgbouncer (t: Teardown, options: { postgresPort: number, database: string, user: string }): Promise<PrivatePgbouncer> {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-pgbouncer-'))
  await chmod(dir, 0o755) // the postgres user reads its config from here
  const port = await freeLoopbackPort()
  const authFile = join(dir, 'userlist.txt')
  const configFile = join(dir, 'pgbouncer.ini')
  await writeFile(authFile, `"${options.user}" ""\n`, { mode: 0o644 })
  await writeFile(configFile, adaptPgbouncerConfig(await readFile(productionPgbouncerConfig, 'utf8'), {
    listenPort: port, postgresPort: options.postgresPort, authFile
  }), { mode: 0o644 })

  let child: ChildProcess | undefined
  let output = ''
  const killOnExit = (): void => {
    try { if (child?.pid !== undefined) process.kill(-child.pid, 'SIGKILL') } catch {}
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', killOnExit)
  // its own process group (runuser and pgbouncer under it), whose id each start writes down
  const groupFile = join(dir, 'group.pid')
  const cancelWatchdog = cleanupIfOrphaned(`kill -KILL -- -$(cat ${shellQuote(groupFile)}) 2>/dev/null; rm -rf ${shellQuote(dir)}`)

  async function start (): Promise<void> {
    if (child !== undefined) throw new Error(`private pgbouncer on port ${port} is already running`)
    output = ''
    const [file, args] = asRoot ? ['runuser', ['-u', 'postgres', '--', 'pgbouncer', configFile]] : ['pgbouncer', [configFile]]
    const launched = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    child = launched
    if (launched.pid !== undefined) await writeFile(groupFile, String(launched.pid))
    const collect = (chunk: Buffer): void => { output = (output + chunk.toString('utf8')).slice(-20_000) }
    launched.stdout?.on('data', collect)
    launched.stderr?.on('data', collect)
    launched.once('exit', () => { if (child === launched) child = undefined })
    const deadline = Date.now() + READY_TIMEOUT_MS
    while (Date.now() < deadline) {
      if (child === undefined) throw new Error(`pgbouncer on port ${port} exited at start:\n${output}`)
      if (await accepts(port)) return
      await sleep(20)
    }
    await stop()
    throw new Error(`pgbouncer on port ${port} did not listen within ${READY_TIMEOUT_MS} ms:\n${output}`)
  }

  async function stop (): Promise<void> {
    const running = child
    if (running === undefined || running.pid === undefined) return
    const exited = once(running, 'exit')
    // the group: runuser and pgbouncer under it
    try { process.kill(-running.pid, 'SIGTERM') } catch {}
    const timer = setTimeout(() => { try { process.kill(-(running.pid ?? 0), 'SIGKILL') } catch {} }, STOP_TIMEOUT_MS)
    try {
      await exited
    } finally {
      clearTimeout(timer)
      if (child === running) child = undefined
    }
    // the port is free once pgbouncer itself (not only runuser) is gone
    for (const until = Date.now() + STOP_TIMEOUT_MS; await accepts(port) && Date.now() < until;) await sleep(20)
  }

  try {
    await start()
  } catch (error) {
    process.removeListener('exit', killOnExit)
    cancelWatchdog()
    await rm(dir, { recursive: true, force: true })
    throw error
  }
  t.teardown(async () => {
    await stop()
    process.removeListener('exit', killOnExit)
    cancelWatchdog()
    await rm(dir, { recursive: true, force: true })
  })

  return {
    port,
    runtimeUrl: `postgres://${options.user}@127.0.0.1:${port}/${options.database}`,
    get running () { return child !== undefined },
    start,
    stop,
    log: () => output
  }
}
