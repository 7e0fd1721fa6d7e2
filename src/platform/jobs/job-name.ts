import type { JobPayload } from './job-data.ts'
import type { QueueName } from './queues.ts'

declare const carries: unique symbol

/**
 * A job's name as its enqueuer and its handler share it: a plain string at run time (it is stored
 * in outbox rows and in Redis, so it is never renamed), typed with the payload the job carries
 * and the queue it runs on. enqueue() and JobRegistry.register() take their payload type and
 * queue from it, so an enqueue and a handler that disagree on either do not compile. Each feature
 * declares its names in its job-names.ts (src/features/<name>/job-names.ts).
 */
export type JobName<P extends JobPayload = JobPayload, Q extends QueueName = QueueName> =
  string & { readonly [carries]?: { payload: P, queue: Q } }

/** The payload of a job that carries nothing: a repeatable job's. */
export type NoPayload = Readonly<Record<string, never>>

/** Declares a job name: `jobName<{ exportId: string }, 'privacy'>('privacy.export')`. */
export const jobName = <P extends JobPayload, Q extends QueueName>(name: string): JobName<P, Q> => name

/** The queue a job name is declared with, for the one place that writes it without enqueue() (a SQL function's argument). */
export type QueueOf<N> = N extends JobName<JobPayload, infer Q> ? Q : never
