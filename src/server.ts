import type { FastifyInstance } from 'fastify'
import { ConfigError, loadConfig, type Config } from './config.ts'
import { buildApp } from './app.ts'
import { ensureDatabase, migrate, MigrationInterrupted, requireOwnerUrl } from './platform/db/migrate.ts'
import { createLogger, type Logger } from './platform/logger.ts'
import { DEMO_PASSWORD, demoEmail, seed } from './seed.ts'
import { installGracefulShutdown } from './platform/shutdown.ts'
import { domainJobs } from './features/jobs.ts'
import { startWorker } from './worker.ts'
import { startTelemetry } from './platform/telemetry/index.ts'

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
  // before any start-up work: a SIGTERM during migrate or listen stops the process too
  const shutdown = installGracefulShutdown(config, log)

  if (development || config.MIGRATE_ON_START) {
    if (development) await ensureDatabase(requireOwnerUrl(config), m => log.info(m))
    await migrate({
      ownerUrl: requireOwnerUrl(config),
      runtimeUrl: config.DATABASE_URL,
      statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
      log: m => log.info(`migrate: ${m}`),
      signal: shutdown.signal
    }).catch((error: unknown) => {
      // the shutdown handler is exiting: nothing was applied, and nothing more starts
      if (!(error instanceof MigrationInterrupted)) throw error
    })
    if (shutdown.signal.aborted) return
  }

  // one tracer for the process, API and worker alike; off (nothing loaded) without an OTLP endpoint
  const telemetry = await startTelemetry(config, log)
  if (telemetry !== undefined) shutdown.finally(() => telemetry.shutdown())

  let app: FastifyInstance | undefined
  if (config.ROLE === 'api' || config.ROLE === 'all') {
    app = await buildApp(config, telemetry === undefined ? {} : { telemetry })
    shutdown.serve(app)
    if (development || config.SEED_ON_START) await seedDemoTenant(app, log)
    const address = await app.listen({ host: config.HOST, port: config.PORT })
    log.info(`Atrium API listening on ${address}`)
    if (development) process.stdout.write(tryIt(address))
  }

  if (config.ROLE === 'worker' || config.ROLE === 'all') {
    shutdown.add(await startWorker(config, log, { registry: domainJobs(config), ...(telemetry === undefined ? {} : { telemetry }) }))
  }
}

/** A fresh database gets the demo tenant `acme` with a few articles, so there is something to try. */
async function seedDemoTenant (app: FastifyInstance, log: Logger): Promise<void> {
  const [existing] = await app.db.read('demo tenant', null, sql => sql`select 1 from tenants where slug = 'acme'`)
  if (existing !== undefined) return
  log.info('seeding the demo tenant acme (npm run seed makes more)')
  await seed(app.db, { tenants: ['acme'], articlesPerTenant: 50, progress: m => log.info(`seed: ${m}`) })
}

function tryIt (address: string): string {
  const login = JSON.stringify({ email: demoEmail('owner', 'acme'), password: DEMO_PASSWORD, tenant: 'acme' })
  return `
Atrium is up on ${address}. Try it:

  TOKEN=$(curl -s -X POST ${address}/v1/auth/login -H 'content-type: application/json' \\
    -d '${login}' | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).access_token')
  curl -s "${address}/v1/articles?limit=3" -H "Authorization: Bearer $TOKEN"

Demo users: owner@acme.example, admin@acme.example, editor@acme.example, viewer@acme.example (password ${DEMO_PASSWORD}).
API docs: ${address}/docs   Readiness: ${address}/readyz

`
}

await main()
