import { ConfigError, loadConfig } from '../../config.ts'
import { ensureDatabase, migrate, requireOwnerUrl } from './migrate.ts'

/** `npm run migrate`: applies pending migrations as the owner, saying what it does. */
try {
  const config = loadConfig()
  const log = (message: string) => process.stdout.write(`migrate: ${message}\n`)
  if (config.NODE_ENV !== 'production') await ensureDatabase(requireOwnerUrl(config), log)
  await migrate({
    ownerUrl: requireOwnerUrl(config),
    runtimeUrl: config.DATABASE_URL,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    log
  })
} catch (error) {
  process.stderr.write(`migrate: ${error instanceof ConfigError ? error.message : String(error)}\n`)
  process.exitCode = 1
}
