import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

function replaceExactlyOnce (text: string, pattern: RegExp, replacement: string, what: string): string {
  const found = text.match(new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`))?.length ?? 0
  if (found !== 1) throw new Error(`deploy/pgbouncer/pgbouncer.ini: expected exactly one ${what}, found ${found}`)
  return text.replace(pattern, replacement)
}

export interface PgbouncerAdaptation {
  listenPort: number
  postgresPort: number
  authFile: string
}

/**
 * deploy/pgbouncer/pgbouncer.ini with loopback addresses, and trust authentication (the local
 * PostgreSQL trusts loopback, so the runtime role has no password); pooling settings unchanged.
 * Used by the bench and by the fleet suite (test-fleet/helpers/pgbouncer.ts).
 */
export function adaptPgbouncerConfig (source: string, { listenPort, postgresPort, authFile }: PgbouncerAdaptation): string {
  let text = source
  text = replaceExactlyOnce(text, /^\* = host=postgres port=5432$/m, `* = host=127.0.0.1 port=${postgresPort}`, 'database line')
  text = replaceExactlyOnce(text, /^listen_addr = .*$/m, 'listen_addr = 127.0.0.1', 'listen_addr')
  text = replaceExactlyOnce(text, /^listen_port = .*$/m, `listen_port = ${listenPort}`, 'listen_port')
  text = replaceExactlyOnce(text, /^auth_type = .*$/m, 'auth_type = trust', 'auth_type')
  text = replaceExactlyOnce(text, /^auth_file = .*$/m, `auth_file = ${authFile}`, 'auth_file')
  return text
}

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}

/**
 * A PgBouncer (deploy/pgbouncer/pgbouncer.ini, adapted) in front of the PostgreSQL of `upstreamUrl`,
 * killed with this process; resolves with `upstreamUrl` pointed at it once it listens.
 */
export async function startBenchPgbouncer (repoRoot: string, upstreamUrl: string): Promise<string> {
  const upstream = new URL(upstreamUrl)
  const dir = mkdtempSync(join(tmpdir(), 'atrium-bench-pgbouncer-'))
  chmodSync(dir, 0o755)
  const port = await freePort()
  const authFile = join(dir, 'userlist.txt')
  const configFile = join(dir, 'pgbouncer.ini')
  writeFileSync(authFile, `"${decodeURIComponent(upstream.username)}" ""\n`, { mode: 0o644 })
  writeFileSync(configFile, adaptPgbouncerConfig(readFileSync(join(repoRoot, 'deploy/pgbouncer/pgbouncer.ini'), 'utf8'), {
    listenPort: port, postgresPort: Number(upstream.port === '' ? 5432 : upstream.port), authFile
  }), { mode: 0o644 })
  // PgBouncer refuses to run as root
  const [file, args] = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', 'pgbouncer', configFile]] : ['pgbouncer', [configFile]]
  const child: ChildProcess = spawn(file, args, { stdio: 'ignore', detached: true })
  process.once('exit', () => {
    try { if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL') } catch {}
    rmSync(dir, { recursive: true, force: true })
  })
  for (const until = Date.now() + 10_000; ;) {
    const listening = await new Promise<boolean>(resolve => {
      const probe = createServer()
      probe.once('error', () => resolve(true)) // taken: pgbouncer holds it
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(false)))
    })
    if (listening) break
    if (Date.now() > until || child.exitCode !== null) throw new Error('pgbouncer did not start')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  upstream.port = String(port)
  return upstream.toString()
}
