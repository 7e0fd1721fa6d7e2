import { currentContext } from '../../context.ts'
import { afterCommit, type Sql, type TransactionSql } from '../db/database.ts'
import { assertFlatPayload, type JobPayload } from './job-data.ts'
import type { JobName } from './job-name.ts'
import { isQueueName, type QueueName } from './queues.ts'

/** Enqueued under a JobName, the payload is of the name's type and the queue must be the name's. */
export interface EnqueueOptions<P extends JobPayload = JobPayload, Q extends QueueName = QueueName> {
  queue: NoInfer<Q>
  name: JobName<P, Q>
  payload: NoInfer<P>
  /** run no earlier than this long after the enqueuing transaction began */
  delayMs?: number
  /**
   * A key that makes the job replaceable: the newest outbox row with this key wins, an older job
   * with it that has not started yet is removed (rescheduling). Default: the job is `outbox-<id>`.
   */
  jobId?: string
  /** the tenant the job works for; default: the tenant of the current context */
  tenantId?: string | null
}

// BullMQ refuses ids made of digits only or holding ':'
const JOB_ID = /^(?![0-9]+$)[A-Za-z0-9._-]{1,200}$/
const MAX_DELAY_MS = 2_147_483_647

/**
 * The one way services enqueue a job: an outbox row written in the caller's transaction, so a
 * rolled back transaction enqueues nothing and a Redis outage loses nothing. The relay in the
 * worker moves the row to BullMQ once committed. The job carries the request id and tenant id of
 * the current context, and its traceparent when traced. Returns the outbox id.
 */
export async function enqueue<P extends JobPayload = JobPayload, Q extends QueueName = QueueName> (tx: TransactionSql, options: EnqueueOptions<P, Q>): Promise<string> {
  if (!isQueueName(options.queue)) throw new Error(`unknown queue ${JSON.stringify(options.queue)}`)
  if (options.name.length === 0) throw new Error('a job needs a name')
  assertFlatPayload(options.payload)
  const delayMs = options.delayMs ?? 0
  if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > MAX_DELAY_MS) throw new Error(`delayMs must be an integer in [0, ${MAX_DELAY_MS}]`)
  if (options.jobId !== undefined && !JOB_ID.test(options.jobId)) throw new Error(`jobId ${JSON.stringify(options.jobId)} must match ${String(JOB_ID)}`)
  const context = currentContext()
  const tenantId = options.tenantId === undefined ? context?.tenantId ?? null : options.tenantId
  const [row] = await tx<Array<{ id: string }>>`
    insert into outbox (queue, job_name, payload, tenant_id, request_id, delay_ms, job_id, trace_context)
    values (${options.queue}, ${options.name}, ${tx.json(options.payload)}, ${tenantId}, ${context?.requestId ?? null},
      ${delayMs}, ${options.jobId ?? null}, ${context?.traceparent ?? null})
    returning id`
  if (row === undefined) throw new Error('the outbox insert returned no row')
  afterCommit(tx, wakeRelay)
  return row.id
}

/** The channel wakeRelay notifies after commit and the relays LISTEN on. */
export const OUTBOX_CHANNEL = 'atrium_outbox'
const WAKE_DELAY_MS = 20
const wakePending = new WeakSet<Sql>()

/**
 * Tells the relays (LISTEN atrium_outbox) that committed outbox rows wait, at most once per 20 ms
 * per pool. Sent after commit, not by a trigger inside the transaction: a commit that notifies
 * takes a database-wide lock, which serialized every enqueuing write (migration 0009 dropped the
 * trigger and says what it cost). The relay's poll is the fallback when a wake-up is lost.
 */
export function wakeRelay (sql: Sql): void {
  if (wakePending.has(sql)) return
  wakePending.add(sql)
  setTimeout(() => {
    wakePending.delete(sql)
    sql.notify(OUTBOX_CHANNEL, '').catch(() => {})
  }, WAKE_DELAY_MS).unref()
}
