import { ConfigError, loadConfig } from '../../src/config.ts'
import { domainJobs } from '../../src/features/jobs.ts'
import { createLogger } from '../../src/platform/logger.ts'
import { startWorker } from '../../src/worker.ts'
import { runForBench } from './serve.ts'

/**
 * Atrium's worker as production runs it beside the API (ROLE=worker, its own process, the same
 * environment): the outbox relay and the job queues, so that the writes the bench makes are
 * relayed and run as they would be, on the same cores.
 */
try {
  const config = loadConfig(process.env)
  const worker = await startWorker(config, createLogger(config), { registry: domainJobs(config) })
  runForBench(() => worker.close())
} catch (error) {
  process.stderr.write(`atrium bench worker: ${error instanceof ConfigError ? error.message : (error as Error).stack ?? String(error)}\n`)
  process.exit(1)
}
