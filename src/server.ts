import type { FastifyInstance } from 'fastify'
import { ConfigError, loadConfig, type Config } from './config.ts'
import { buildApp } from './app.ts'
import { ensureDatabase, migrate, requireOwnerUrl } from './db/migrate.ts'
import { createLogger } from './logger.ts'
import { installGracefulShutdown } from './shutdown.ts'

/**
 * Entry point for every role: ROLE=api serves HTTP, ROLE=worker runs jobs, ROLE=all (development)
 * does both. Migrates first in development or when MIGRATE_ON_START is set.
 */
async function main (): Promise<void> {
  let config: Config
  try {
    config = loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`atrium: ${error.message}\n`)
      process.exit(1)
    }
    throw error
  }
  const log = createLogger(config)
  const development = config.NODE_ENV !== 'production'

  if (development || config.MIGRATE_ON_START) {
    if (development) await ensureDatabase(requireOwnerUrl(config), m => log.info(m))
    await migrate({
      ownerUrl: requireOwnerUrl(config),
      runtimeUrl: config.DATABASE_URL,
      statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
      log: m => log.info(`migrate: ${m}`)
    })
  }

  let app: FastifyInstance | undefined
  if (config.ROLE === 'api' || config.ROLE === 'all') {
    app = await buildApp(config)
    const address = await app.listen({ host: config.HOST, port: config.PORT })
    log.info(`Atrium API listening on ${address} (try: curl -s ${address}/readyz)`)
  }

  installGracefulShutdown(config, log, app)
}

await main()
