import { constants } from 'node:os'
import { ConfigError, loadConfig } from '../../config.ts'
import { ensureDatabase, migrate, MigrationInterrupted, requireOwnerUrl } from './migrate.ts'

/**
 * `npm run migrate`: applies pending migrations as the owner, saying what it does. SIGTERM or
 * SIGINT (a container stopped, Ctrl-C) drops its connection, so its transaction rolls back, and it
 * exits with 128 + the signal's number, as a shell reports a process the signal ended.
 */
const stop = new AbortController()
let stoppedBy: NodeJS.Signals | undefined
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    stoppedBy = signal
    stop.abort()
  })
}

try {
  const config = loadConfig()
  const log = (message: string) => process.stdout.write(`migrate: ${message}\n`)
  if (config.NODE_ENV !== 'production') await ensureDatabase(requireOwnerUrl(config), log)
  await migrate({
    ownerUrl: requireOwnerUrl(config),
    runtimeUrl: config.DATABASE_URL,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    log,
    signal: stop.signal
  })
} catch (error) {
  if (error instanceof MigrationInterrupted) {
    process.stderr.write(`migrate: ${stoppedBy ?? 'signal'}: ${error.message}\n`)
    process.exitCode = 128 + (stoppedBy === undefined ? 0 : constants.signals[stoppedBy])
  } else {
    process.stderr.write(`migrate: ${error instanceof ConfigError ? error.message : String(error)}\n`)
    process.exitCode = 1
  }
}
