import type { JobsOptions } from 'bullmq'
import type { Database, Sql, TransactionSql } from '../db/database.ts'
import type { Logger } from '../logger.ts'
import { OutageLog } from '../outage-log.ts'
import type { RetryPolicy } from './backoff.ts'
import type { JobData, JobPayload } from './job-data.ts'
import { OUTBOX_CHANNEL } from './outbox.ts'
import { jobOptions, type JobQueue, type JobQueues } from './queues.ts'
import { within } from '../within.ts'

export interface OutboxRow {
  id: string
  queue: string
  job_name: string
  payload: JobPayload
  tenant_id: string | null
  request_id: string | null
  job_id: string | null
  /** the traceparent of the span that wrote the row (migration 0015), null when untraced */
  trace_context: string | null
  /** what is left of the row's delay, counted from the enqueuing transaction */
  remaining_delay_ms: number
}

export interface BullJob {
  name: string
  data: JobData
  opts: JobsOptions
}

/** The BullMQ job an outbox row becomes; its id derives from the row, so adding it twice adds it once. */
export function bullJobOf (row: OutboxRow, policy: RetryPolicy): BullJob {
  return {
    name: row.job_name,
    data: {
      outboxId: row.id,
      payload: row.payload,
      requestId: row.request_id,
      tenantId: row.tenant_id,
      ...(row.trace_context === null ? {} : { traceparent: row.trace_context })
    },
    opts: jobOptions(row.job_id ?? `outbox-${row.id}`, row.remaining_delay_ms, policy)
  }
}

export interface RelayOptions {
  db: Database
  /** for LISTEN, on a connection of its own */
  sql: Sql
  queues: JobQueues
  retryPolicy: (jobName: string) => RetryPolicy
  log: Logger
  /** the fallback when a notification is missed or LISTEN is down */
  pollIntervalMs?: number
  batchSize?: number
  /** a Redis call slower than this fails the batch; its rows stay for the next try */
  redisTimeoutMs?: number
  /** relayed rows older than this are deleted */
  retentionDays?: number
}

type Outcome = 'added' | 'present' | 'postponed'

interface BatchResult {
  relayed: number
  error?: unknown
}

const PRUNE_INTERVAL_MS = 3_600_000
const PRUNE_BATCH = 10_000

/**
 * Moves committed outbox rows to BullMQ in id order and marks them relayed, in one transaction
 * holding the rows with FOR UPDATE SKIP LOCKED, so several relays share the work without meeting.
 * A relay that dies after adding a job and before marking its row re-adds it later under the same
 * job id, which BullMQ ignores. Woken by NOTIFY and by a poll; a failure (Redis away) leaves the
 * rows, is logged once, and is retried on the next poll.
 */
export class OutboxRelay {
  private readonly pollIntervalMs: number
  private readonly batchSize: number
  private readonly redisTimeoutMs: number
  private readonly retentionDays: number
  private stopped = false
  private pending = false
  private draining: Promise<void> | undefined
  private poller: NodeJS.Timeout | undefined
  private listener: { unlisten: () => Promise<void> } | undefined
  private readonly outage: OutageLog
  private nextPruneAt = 0

  constructor (private readonly options: RelayOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000
    this.batchSize = options.batchSize ?? 100
    this.redisTimeoutMs = options.redisTimeoutMs ?? 2_000
    this.retentionDays = options.retentionDays ?? 7
    this.outage = new OutageLog(options.log, {
      failed: 'outbox relay failed; rows stay and are retried',
      stillFailing: 'outbox relay still failing',
      recovered: 'outbox relay recovered'
    })
  }

  async start (): Promise<void> {
    this.poller = setInterval(() => this.wake(), this.pollIntervalMs)
    try {
      // onlisten also fires after a reconnect: catch up on rows committed while deaf
      this.listener = await this.options.sql.listen(OUTBOX_CHANNEL, () => this.wake(), () => this.wake())
    } catch (error) {
      this.options.log.warn({ err: error }, `outbox relay: LISTEN failed, polling every ${this.pollIntervalMs} ms`)
    }
    this.wake()
  }

  /** Relay soon: coalesces with a pass already running. */
  wake (): void {
    if (this.stopped) return
    this.pending = true
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined
      if (this.pending) this.wake()
    })
  }

  /** Stops waking and waits for the pass in progress. */
  async stop (): Promise<void> {
    this.stopped = true
    clearInterval(this.poller)
    await this.listener?.unlisten().catch(() => {})
    await this.draining
  }

  private async drain (): Promise<void> {
    while (this.pending && !this.stopped) {
      this.pending = false
      // a full batch relayed: more may be waiting
      if (await this.relayOnce() === this.batchSize) this.pending = true
    }
  }

  /** One batch; resolves to the number of rows relayed, never rejects. */
  async relayOnce (): Promise<number> {
    try {
      const result = await this.options.db.transaction(null, tx => this.relayBatch(tx))
      if (result.error !== undefined) throw result.error
      this.outage.recovered()
      await this.pruneIfDue()
      return result.relayed
    } catch (error) {
      this.outage.failed(error)
      return 0
    }
  }

  private async relayBatch (tx: TransactionSql): Promise<BatchResult> {
    const rows = await tx<OutboxRow[]>`
      select id, queue, job_name, payload, tenant_id, request_id, job_id, trace_context,
        greatest(0, ceil(extract(epoch from created_at - clock_timestamp()) * 1000 + delay_ms))::integer as remaining_delay_ms
      from outbox
      where relayed_at is null
      order by id
      limit ${this.batchSize}
      for update skip locked`
    const relayed: string[] = []
    let error: unknown
    for (const row of rows) {
      try {
        const outcome = await within(this.redisTimeoutMs, 'adding a job to Redis', this.publish(row))
        if (outcome !== 'postponed') relayed.push(row.id)
        this.options.log.debug({ request_id: row.request_id, tenant_id: row.tenant_id, job: row.job_name, outbox_id: row.id, outcome }, 'outbox row relayed')
      } catch (caught) {
        // the connection under this queue may be broken for good: start afresh next time
        this.options.queues.evict(row.queue)
        error = caught
        break // keep the order: nothing after a row that could not be relayed
      }
    }
    if (relayed.length > 0) await tx`update outbox set relayed_at = now() where id = any(${relayed}::bigint[])`
    return { relayed: relayed.length, error }
  }

  private async publish (row: OutboxRow): Promise<Outcome> {
    const job = bullJobOf(row, this.options.retryPolicy(row.job_name))
    const queue = this.options.queues.get(row.queue)
    if (row.job_id !== null) {
      const outcome = await this.replaceOlder(queue, row.job_id, row.id)
      if (outcome !== undefined) return outcome
    }
    await queue.add(job.name, job.data, job.opts)
    return 'added'
  }

  /**
   * A keyed job: the newest row wins. An existing job from an older row is removed unless it is
   * running (then this row waits for the next pass); one from this row or a newer one stays.
   */
  private async replaceOlder (queue: JobQueue, jobId: string, outboxId: string): Promise<Outcome | undefined> {
    const existing = await queue.getJob(jobId)
    if (existing === undefined) return undefined
    if (BigInt(existing.data.outboxId) >= BigInt(outboxId)) return 'present'
    if (await existing.getState() === 'active') return 'postponed'
    await existing.remove()
    return undefined
  }

  private async pruneIfDue (): Promise<void> {
    if (Date.now() < this.nextPruneAt) return
    this.nextPruneAt = Date.now() + PRUNE_INTERVAL_MS
    await this.options.db.transaction(null, tx => tx`
      delete from outbox where id in (
        select id from outbox
        where relayed_at < now() - make_interval(days => ${this.retentionDays})
        order by id
        limit ${PRUNE_BATCH})`)
  }
}
