import { Queue, type JobsOptions } from 'bullmq'
import type { Config } from '../../config.ts'
import type { Redis } from '../redis.ts'
import { JITTER_BACKOFF, type RetryPolicy } from './backoff.ts'
import type { JobData } from './job-data.ts'
import { within } from '../within.ts'

/** One queue per concern, so a slow export never holds up a receipt. */
export const queueNames = ['billing', 'mail', 'publishing', 'maintenance', 'privacy'] as const
export type QueueName = typeof queueNames[number]

export function isQueueName (name: string): name is QueueName {
  return (queueNames as readonly string[]).includes(name)
}

/** BullMQ keys live under the app's prefix, so instances (and test files) with their own prefix never meet. */
export function bullPrefix (config: Pick<Config, 'REDIS_PREFIX'>): string {
  return `${config.REDIS_PREFIX}bull`
}

const DAY_S = 86_400

/**
 * Completed jobs stay a day, so a relay that re-adds a job it had already added (it crashed before
 * marking the row) meets the existing id and adds nothing. Failed jobs stay, bounded, to be counted
 * and inspected.
 */
export function jobOptions (jobId: string, delayMs: number, policy: RetryPolicy): JobsOptions {
  return {
    jobId,
    delay: delayMs,
    attempts: policy.attempts,
    backoff: { type: JITTER_BACKOFF, delay: policy.baseDelayMs },
    removeOnComplete: { age: DAY_S, count: 50_000 },
    removeOnFail: { count: 10_000 }
  }
}

export interface QueueCounts {
  waiting: number
  active: number
  delayed: number
  failed: number
}

export type JobQueue = Queue<JobData, unknown, string>

/**
 * The producer side of every queue, made on first use over one Redis connection. Used by the
 * relay to add jobs and by metrics to read queue depths.
 */
export class JobQueues {
  private readonly queues = new Map<string, JobQueue>()

  /** timeoutMs bounds reads (counts) that would otherwise wait for a Redis that is away */
  constructor (private readonly connection: Redis, private readonly prefix: string, private readonly timeoutMs = 2_000) {}

  get (name: string): JobQueue {
    let queue = this.queues.get(name)
    if (queue === undefined) {
      queue = new Queue<JobData, unknown, string>(name, { connection: this.connection, prefix: this.prefix })
      // errors reach the caller of each operation; the connection's own listener logs outages
      queue.on('error', () => {})
      this.queues.set(name, queue)
    }
    return queue
  }

  /** Forgets a queue whose connection setup may have failed for good; the next get() makes a fresh one. */
  evict (name: string): void {
    const queue = this.queues.get(name)
    if (queue === undefined) return
    this.queues.delete(name)
    queue.close().catch(() => {})
  }

  /** Waiting, active, delayed and failed jobs of every queue. Rejects while Redis is away. */
  async counts (): Promise<Record<QueueName, QueueCounts>> {
    const entries = await Promise.all(queueNames.map(async name => {
      const counts = await within(this.timeoutMs, 'queue counts', this.get(name).getJobCounts('waiting', 'active', 'delayed', 'failed'))
      const tally: QueueCounts = {
        waiting: counts.waiting ?? 0,
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        failed: counts.failed ?? 0
      }
      return [name, tally] as const
    }))
    return Object.fromEntries(entries) as Record<QueueName, QueueCounts>
  }

  async close (): Promise<void> {
    const queues = [...this.queues.values()]
    this.queues.clear()
    await Promise.all(queues.map(queue => queue.close()))
  }
}
