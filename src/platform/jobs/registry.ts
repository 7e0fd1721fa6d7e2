import type { Database } from '../db/database.ts'
import type { Logger } from '../logger.ts'
import type { Redis } from '../redis.ts'
import { defaultRetryPolicy, type RetryPolicy } from './backoff.ts'
import type { JobPayload } from './job-data.ts'
import type { JobName } from './job-name.ts'
import type { QueueName } from './queues.ts'

/** What a handler gets besides its payload. The request context (request id, tenant) is already restored. */
export interface JobContext {
  db: Database
  redis: Redis
  log: Logger
  /** the BullMQ job id: `outbox-<id>` or the key the service chose */
  jobId: string
  /** 1 on the first run, 2 on the first retry, ... */
  attempt: number
}

/**
 * A kind of job: where it queues, how it is retried and what it does. Its handler must be
 * idempotent. Registered under a JobName, it takes the name's payload type and must name its queue.
 */
export interface JobType<P extends JobPayload = JobPayload, Q extends QueueName = QueueName> {
  queue: NoInfer<Q>
  /** unique across queues: the worker dispatches by it */
  name: JobName<P, Q>
  retry?: Partial<RetryPolicy>
  /** a repeatable job: the worker keeps one BullMQ job scheduler making it every this many ms, with an empty payload */
  repeatEveryMs?: number
  handler (payload: P, context: JobContext): Promise<void>
}

export interface RegisteredJobType {
  queue: QueueName
  name: string
  retry: RetryPolicy
  repeatEveryMs?: number
  handler (payload: JobPayload, context: JobContext): Promise<void>
}

const JOB_NAME = /^[a-z][a-z0-9._-]{0,63}$/

/** The job types this process runs, registered by the domain; the worker dispatches by name. */
export class JobRegistry {
  private readonly types = new Map<string, RegisteredJobType>()

  register<P extends JobPayload = JobPayload, Q extends QueueName = QueueName> (type: JobType<P, Q>): this {
    if (!JOB_NAME.test(type.name)) throw new Error(`job name ${JSON.stringify(type.name)} must match ${String(JOB_NAME)}`)
    if (this.types.has(type.name)) throw new Error(`job type ${type.name} is already registered`)
    const retry = { ...defaultRetryPolicy, ...type.retry }
    if (!Number.isInteger(retry.attempts) || retry.attempts < 1) throw new Error(`job type ${type.name}: attempts must be a positive integer`)
    if (retry.baseDelayMs < 0 || retry.maxDelayMs < retry.baseDelayMs) throw new Error(`job type ${type.name}: need 0 <= baseDelayMs <= maxDelayMs`)
    if (type.repeatEveryMs !== undefined && !(Number.isInteger(type.repeatEveryMs) && type.repeatEveryMs > 0)) {
      throw new Error(`job type ${type.name}: repeatEveryMs must be a positive integer`)
    }
    this.types.set(type.name, {
      queue: type.queue,
      name: type.name,
      retry,
      ...(type.repeatEveryMs === undefined ? {} : { repeatEveryMs: type.repeatEveryMs }),
      // the payload was written by enqueue() from this codebase for this job name
      handler: (payload, context) => type.handler(payload as P, context)
    })
    return this
  }

  get (name: string): RegisteredJobType | undefined {
    return this.types.get(name)
  }

  retryPolicy (name: string): RetryPolicy {
    return this.types.get(name)?.retry ?? defaultRetryPolicy
  }

  /** the repeatable job types: the worker keeps their schedulers */
  repeatable (): RegisteredJobType[] {
    return [...this.types.values()].filter(type => type.repeatEveryMs !== undefined)
  }

  /** the queues that have at least one job type: the worker processes these */
  queues (): QueueName[] {
    return [...new Set([...this.types.values()].map(type => type.queue))]
  }
}
