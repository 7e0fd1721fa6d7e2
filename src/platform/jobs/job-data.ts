/**
 * What a job carries: ids and other scalars, never objects. A handler reads the current state
 * from the database, so a job that runs late or twice never acts on a stale copy.
 */
export type JobPayload = Readonly<Record<string, string | number | boolean | null>>

/** The BullMQ job data the relay writes and the worker reads. */
export interface JobData {
  /** the outbox row this job came from (bigint, as text) */
  outboxId: string
  payload: JobPayload
  /** the request that caused the job, restored into the worker's context */
  requestId: string | null
  tenantId: string | null
  /** the traceparent of the span that enqueued the job: the worker's span for it is its child */
  traceparent?: string
}

/** Throws unless every value of the payload is a scalar. */
export function assertFlatPayload (payload: Record<string, unknown>): asserts payload is JobPayload {
  for (const [key, value] of Object.entries(payload)) {
    const type = typeof value
    const scalar = value === null || type === 'string' || type === 'boolean' || (type === 'number' && Number.isFinite(value))
    if (!scalar) throw new TypeError(`job payload ${key}: jobs carry ids and scalars, not ${type === 'object' ? 'objects' : type}`)
  }
}
