import { ConfigError, loadConfig } from '../config.ts'
import { ensureDatabase, migrate } from './migrate.ts'

/** `npm run migrate`: applies pending migrations as the owner, saying what it does. */
try {
  const config = loadConfig()
  const log = (message: string) => process.stdout.write(`migrate: ${message}\n`)
  if (config.NODE_ENV !== 'production') await ensureDatabase(config.DATABASE_OWNER_URL, log)
  await migrate({
    ownerUrl: config.DATABASE_OWNER_URL,
    runtimeUrl: config.DATABASE_URL,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    log
  })
} catch (error) {
  process.stderr.write(`migrate: ${error instanceof ConfigError ? error.message : String(error)}\n`)
  process.exitCode = 1
}
