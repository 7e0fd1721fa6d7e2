import { buildApp } from '../../src/app.ts'
import { ConfigError, loadConfig } from '../../src/config.ts'
import { startBenchPgbouncer } from './pgbouncer.ts'
import { serveForBench } from './serve.ts'

/**
 * bench/servers/atrium.ts behind a PgBouncer of its own (transaction mode, deploy/pgbouncer/), started
 * here and killed with this process: DATABASE_URL is the runtime role's, rewritten to PgBouncer's
 * port. The server's CPU figure is this process's alone (PgBouncer's is not counted).
 */
try {
  const env = { ...process.env, DATABASE_URL: await startBenchPgbouncer(process.cwd(), process.env.DATABASE_URL ?? '') }
  const app = await buildApp(loadConfig(env))
  await serveForBench(app)
} catch (error) {
  process.stderr.write(`atrium-pgbouncer bench server: ${error instanceof ConfigError ? error.message : (error as Error).stack ?? String(error)}\n`)
  process.exit(1)
}
