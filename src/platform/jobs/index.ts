/**
 * Background jobs.
 *
 * Names: a feature declares each job's name once, in its job-names.ts, typed with its payload and
 * queue (`jobName<{ exportId: string }, 'privacy'>('privacy.export')`, job-name.ts); the service that
 * enqueues it and the handler registered for it both use that constant, and the compiler holds them
 * to its payload and queue. A feature's jobs.ts holds its handlers and one register<Feature>Jobs(registry,
 * deps), which its index exports; src/features/jobs.ts calls each of them once.
 *
 * Enqueue: a service calls `enqueue(tx, { queue, name, payload })` inside its own transaction. That
 * writes an outbox row, nothing else: a rolled back transaction enqueues nothing and a Redis outage
 * loses nothing. The relay in the worker (relay.ts) moves committed rows to BullMQ under a job id
 * derived from the row, so relaying a row twice still makes one job.
 *
 * Run: the worker (src/worker.ts) dispatches each job by name to a handler registered in a
 * JobRegistry, inside the request context of the request that enqueued it, so its logs and SQL
 * carry that request id and tenant. Failures are retried with full-jitter exponential backoff
 * (backoff.ts) up to the job type's attempts; jobs that fail for good stay in the failed set.
 *
 * Every job may run more than once (a retry after a crash, a duplicate delivery, a relay re-add),
 * so every handler must leave the same state after two runs as after one. The pattern: payloads
 * carry ids, never objects; the handler reads current state and, in ONE transaction, either
 *   - claims a guard key and applies its effect only when the claim is new:
 *       await ctx.db.transaction(tenantId, async tx => {
 *         if (!await once(tx, `receipt:${invoiceId}`)) return
 *         await tx`insert ...`
 *       })
 *   - or checks the state it is about to change (`update articles set status = 'published'
 *     where id = $1 and status = 'scheduled' and publish_at = $2`), so a stale or second run
 *     matches nothing.
 * A side effect outside the database (an email) goes after the claim, in the claiming transaction:
 * if sending fails the transaction rolls back and the retry sends; if the commit fails after a
 * send, one duplicate is possible, so prefer effects the receiver can deduplicate (a message id).
 */
export { enqueue, type EnqueueOptions } from './outbox.ts'
export { once } from './once.ts'
export { JobRegistry, type JobContext, type JobType } from './registry.ts'
export { jobName, type JobName, type NoPayload, type QueueOf } from './job-name.ts'
export { queueNames, type QueueName, type QueueCounts } from './queues.ts'
export type { JobPayload } from './job-data.ts'
