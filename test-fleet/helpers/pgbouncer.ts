import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Teardown } from '../../test/helpers/app.ts'
import { freeLoopbackPort, serviceProcess } from '../../test/helpers/service-process.ts'
import { cleanupIfOrphaned, shellQuote } from '../../test/helpers/orphans.ts'
import { adaptPgbouncerConfig } from '../../bench/servers/pgbouncer.ts'

export const productionPgbouncerConfig = fileURLToPath(new URL('../../deploy/pgbouncer/pgbouncer.ini', import.meta.url))
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

  let pid: number | undefined
  const killOnExit = (): void => {
    try { if (pid !== undefined) process.kill(-pid, 'SIGKILL') } catch {}
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', killOnExit)
  // its own process group (runuser and pgbouncer under it), whose id each start writes down
  const groupFile = join(dir, 'group.pid')
  const cancelWatchdog = cleanupIfOrphaned(`kill -KILL -- -$(cat ${shellQuote(groupFile)}) 2>/dev/null; rm -rf ${shellQuote(dir)}`)
  const removeAll = async (): Promise<void> => {
    process.removeListener('exit', killOnExit)
    cancelWatchdog()
    await rm(dir, { recursive: true, force: true })
  }

  const [file, args] = asRoot ? ['runuser', ['-u', 'postgres', '--', 'pgbouncer', configFile]] : ['pgbouncer', [configFile]]
  const server = serviceProcess({
    label: `pgbouncer on port ${port}`,
    launch: () => spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true }),
    group: true,
    ready: () => accepts(port),
    outputKept: 20_000
  })

  async function start (): Promise<void> {
    const starting = server.start()
    pid = server.pid
    if (pid !== undefined) await writeFile(groupFile, String(pid))
    await starting
  }

  async function stop (): Promise<void> {
    await server.stop('SIGTERM')
    // the port is free once pgbouncer itself (not only runuser) is gone
    for (const until = Date.now() + STOP_TIMEOUT_MS; await accepts(port) && Date.now() < until;) await sleep(20)
  }

  try {
    await start()
  } catch (error) {
    await removeAll()
    throw error
  }
  t.teardown(async () => {
    await stop()
    await removeAll()
  })

  return {
    port,
    runtimeUrl: `postgres://${options.user}@127.0.0.1:${port}/${options.database}`,
    get running () { return server.running },
    start,
    stop,
    log: server.output
  }
}
