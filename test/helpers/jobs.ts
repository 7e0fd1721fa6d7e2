import type { Config } from '../../src/config.ts'
import { createSql, type Sql } from '../../src/platform/db/client.ts'
import { Database } from '../../src/platform/db/database.ts'
import { createLogger, type Logger } from '../../src/platform/logger.ts'
import { createRedis } from '../../src/platform/redis.ts'
import { bullPrefix, JobQueues } from '../../src/platform/jobs/queues.ts'
import type { JobContext, JobRegistry } from '../../src/platform/jobs/registry.ts'
import { startWorker, type RunningWorker, type WorkerDeps } from '../../src/worker.ts'
import { logCollector, testConfig, type Teardown } from './app.ts'
import type { TestDatabase } from './database.ts'
import { deleteKeys } from './redis-keys.ts'

export interface TestWorker {
  worker: RunningWorker
  config: Config
  /** every line the worker logged, parsed */
  logs: Array<Record<string, unknown>>
  /** the queues seen from outside the worker, for inspecting jobs */
  queues: JobQueues
  close: () => Promise<void>
}

/** The queues under the config's prefix, seen from outside any worker; their keys are deleted when the test ends. */
export function testQueues (t: Teardown, config: Config): { queues: JobQueues, close: () => Promise<void> } {
  const inspector = createRedis(config.REDIS_URL, { connectionName: 'atrium-test-inspector' })
  inspector.on('error', () => {})
  const queues = new JobQueues(inspector, bullPrefix(config))
  let closed: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closed ??= (async () => {
      await queues.close()
      await deleteKeys(inspector, `${bullPrefix(config)}*`).catch(() => {})
      inspector.disconnect()
    })()
    await closed
  }
  t.teardown(close)
  return { queues, close }
}

/**
 * A worker on the test's database and, unless a config says otherwise, a Redis prefix of its own;
 * closed, and its BullMQ keys deleted, when the test ends.
 */
export async function startTestWorker (
  t: Teardown,
  db: TestDatabase,
  registry: JobRegistry,
  options: { env?: Record<string, string>, config?: Config, deps?: Omit<WorkerDeps, 'registry'> } = {}
): Promise<TestWorker> {
  const config = options.config ?? testConfig(db, options.env)
  const { stream, logs } = logCollector()
  const log = createLogger({ LOG_LEVEL: 'debug' }, stream)
  const inspection = testQueues(t, config)
  const worker = await startWorker(config, log, { ...options.deps, registry })
  let closed: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closed ??= (async () => {
      await worker.close()
      await inspection.close()
    })()
    await closed
  }
  t.teardown(close)
  return { worker, config, logs, queues: inspection.queues, close }
}

/** The runtime role's Database, as a service would use it, closed when the test ends. */
export function serviceDatabase (t: Teardown, db: TestDatabase, log: Logger = createLogger({ LOG_LEVEL: 'silent' })): { sql: Sql, database: Database } {
  const sql = createSql(db.runtimeUrl, { max: 4 })
  t.teardown(() => sql.end({ timeout: 5 }))
  return { sql, database: new Database(sql, { log, slowQueryMs: 10_000, lockTimeoutMs: 2_000, defaultBudgetMs: 10_000 }) }
}

/**
 * What the worker hands a job handler, for running one directly (a duplicate delivery, a retry):
 * the runtime role's Database and a Redis connection of its own, both closed when the test ends.
 */
export function directJobContexts (t: Teardown, db: TestDatabase, config: Config): (jobId: string) => JobContext {
  const { database } = serviceDatabase(t, db)
  const redis = createRedis(config.REDIS_URL, { connectionName: 'atrium-test-direct-job' })
  t.teardown(() => { redis.disconnect() })
  const log = createLogger({ LOG_LEVEL: 'silent' })
  return jobId => ({ db: database, redis, log, jobId, attempt: 1 })
}

/** Runs DDL as the owner (tests' own tables), granting the runtime role what handlers need. */
export async function asOwner (db: TestDatabase, statements: string): Promise<void> {
  const owner = createSql(db.ownerUrl, { max: 1 })
  try {
    await owner.unsafe(statements).simple()
  } finally {
    await owner.end({ timeout: 5 })
  }
}
