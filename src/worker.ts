import { UnrecoverableError, Worker, type Job } from 'bullmq'
import type { Config } from './config.ts'
import { runWithContext, type RequestContext } from './context.ts'
import { createSql } from './platform/db/client.ts'
import { Database } from './platform/db/database.ts'
import type { Logger } from './platform/logger.ts'
import { OutageLog } from './platform/outage-log.ts'
import { createRedis, type Redis } from './platform/redis.ts'
import { jitterBackoffStrategy } from './platform/jobs/backoff.ts'
import type { JobData } from './platform/jobs/job-data.ts'
import { bullPrefix, JobQueues, type QueueCounts, type QueueName } from './platform/jobs/queues.ts'
import type { JobRegistry, RegisteredJobType } from './platform/jobs/registry.ts'
import { OutboxRelay, type RelayOptions } from './platform/jobs/relay.ts'
import { keepSchedules } from './platform/jobs/schedules.ts'
import type { Telemetry } from './platform/telemetry/index.ts'

export type WorkerConfig = Pick<Config,
  'DATABASE_URL' | 'DATABASE_POOL_MAX' | 'DATABASE_PREPARE' | 'DATABASE_LISTEN_URL' | 'SLOW_QUERY_MS' | 'LOCK_TIMEOUT_MS' | 'DATABASE_STATEMENT_TIMEOUT_MS' |
  'REDIS_URL' | 'REDIS_PREFIX' | 'WORKER_CONCURRENCY' | 'WORKER_JOB_LOCK_MS'>

export interface WorkerDeps {
  /** the job types this worker runs; it processes the queues they name */
  registry: JobRegistry
  /** the random source of the retry jitter */
  random?: () => number
  relay?: Pick<RelayOptions, 'pollIntervalMs' | 'batchSize' | 'redisTimeoutMs' | 'retentionDays'>
  /** tracing for this process (startTelemetry): a span per job attempt, and its statements; absent: off */
  telemetry?: Telemetry
}

export interface RunningWorker {
  /** waiting, active, delayed and failed jobs per queue, for /metrics; rejects while Redis is away */
  queueCounts: () => Promise<Record<QueueName, QueueCounts>>
  /** stops taking jobs, lets running ones finish, stops the relay, closes connections */
  close: () => Promise<void>
}

function watch (redis: Redis, outages: OutageLog): void {
  redis.on('error', (error: Error) => outages.failed(error))
  redis.on('ready', () => outages.recovered())
}

/**
 * The worker role: the outbox relay and one BullMQ Worker per queue that has job types, on its own
 * PostgreSQL pool and Redis connections. Each job runs in the context of the request that enqueued it.
 */
export async function startWorker (config: WorkerConfig, log: Logger, deps: WorkerDeps): Promise<RunningWorker> {
  const sql = createSql(config.DATABASE_URL, { max: config.DATABASE_POOL_MAX, applicationName: 'atrium-worker', prepare: config.DATABASE_PREPARE })
  // LISTEN needs a session of its own: behind PgBouncer's transaction mode the relay listens on a
  // direct connection (DATABASE_LISTEN_URL); the pool above carries every query
  const listenSql = config.DATABASE_LISTEN_URL === undefined
    ? sql
    : createSql(config.DATABASE_LISTEN_URL, { max: 1, applicationName: 'atrium-relay-listen', prepare: config.DATABASE_PREPARE })
  const db = new Database(sql, {
    log,
    slowQueryMs: config.SLOW_QUERY_MS,
    lockTimeoutMs: config.LOCK_TIMEOUT_MS,
    defaultBudgetMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    ...(deps.telemetry === undefined ? {} : { observer: deps.telemetry.database })
  })
  // fails fast while Redis is away: the relay leaves its rows and tries again on the next poll
  const commands = createRedis(config.REDIS_URL, { connectionName: 'atrium-worker' })
  // BullMQ's workers wait through an outage instead (their blocking connection is a duplicate)
  const consumer = createRedis(config.REDIS_URL, { connectionName: 'atrium-worker-jobs', maxRetriesPerRequest: null, offlineQueue: true })
  const outages = new OutageLog(log, { failed: 'worker redis: unavailable', recovered: 'worker redis: available again' })
  watch(commands, outages)
  watch(consumer, outages)

  const prefix = bullPrefix(config)
  const queues = new JobQueues(commands, prefix)
  const { registry } = deps

  async function runAttempt (job: Job<JobData, void, string>, type: RegisteredJobType, context: RequestContext): Promise<void> {
    await runWithContext(context, async () => {
      const attempt = job.attemptsMade + 1
      try {
        await type.handler(job.data.payload, { db, redis: commands, log, jobId: job.id ?? '', attempt })
      } catch (error) {
        const final = error instanceof UnrecoverableError || attempt >= (job.opts.attempts ?? 1)
        const fields = { err: error, job: job.name, job_id: job.id, attempt }
        if (final) log.error(fields, 'job failed for good')
        else log.warn(fields, 'job failed; it will be retried')
        throw error
      }
    })
  }

  const { telemetry } = deps
  async function runJob (job: Job<JobData, void, string>): Promise<void> {
    const type = registry.get(job.name)
    if (type === undefined) throw new UnrecoverableError(`no handler is registered for job ${job.name}`)
    const { requestId, tenantId } = job.data
    const context: RequestContext = { requestId: requestId ?? `job-${job.id ?? ''}`, route: `job:${job.name}` }
    if (tenantId !== null) context.tenantId = tenantId
    if (telemetry === undefined) return await runAttempt(job, type, context)
    // each attempt its own span, a child of the span that enqueued the job: retries show in its trace
    const run = { name: job.name, queue: type.queue, jobId: job.id ?? '', attempt: job.attemptsMade + 1, traceparent: job.data.traceparent ?? null }
    await telemetry.job(run, async span => {
      context.traceId = span.traceId
      context.spanId = span.spanId
      context.traceparent = span.traceparent
      await runAttempt(job, type, context)
    })
  }

  const backoffStrategy = jitterBackoffStrategy(name => registry.retryPolicy(name), deps.random)
  const workers = registry.queues().map(queue => {
    const worker = new Worker<JobData, void, string>(queue, runJob, {
      connection: consumer,
      prefix,
      concurrency: config.WORKER_CONCURRENCY,
      // a killed worker's jobs stay active until their lock expires; the next stalled check moves them back
      lockDuration: config.WORKER_JOB_LOCK_MS,
      stalledInterval: config.WORKER_JOB_LOCK_MS,
      settings: { backoffStrategy }
    })
    worker.on('error', error => outages.failed(error))
    return worker
  })

  const relay = new OutboxRelay({ db, sql: listenSql, queues, retryPolicy: name => registry.retryPolicy(name), log, ...deps.relay })
  await relay.start()
  const schedules = keepSchedules(queues, registry, log)
  log.info({ queues: registry.queues(), concurrency: config.WORKER_CONCURRENCY }, 'worker started')

  let closing: Promise<void> | undefined
  async function close (): Promise<void> {
    await Promise.all([relay.stop(), schedules.stop(), ...workers.map(worker => worker.close())])
    await queues.close()
    commands.disconnect()
    consumer.disconnect()
    await Promise.all([sql.end({ timeout: 5 }), listenSql === sql ? undefined : listenSql.end({ timeout: 5 })])
  }

  return {
    queueCounts: () => queues.counts(),
    close: () => (closing ??= close())
  }
}
