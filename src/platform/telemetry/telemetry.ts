import type { FastifyPluginCallback } from 'fastify'
import type { DatabaseObserver } from '../db/database.ts'

/** The ids of a span, as logs, the response and an outbox row carry them. */
export interface SpanIds {
  traceId: string
  spanId: string
  /** W3C `traceparent` of the span: `00-<trace id>-<span id>-<flags>` */
  traceparent: string
}

/** What the worker knows of a job run when it starts its span. */
export interface JobRun {
  name: string
  queue: string
  jobId: string
  /** 1 on the first run, 2 on the first retry, ... */
  attempt: number
  /** the traceparent of the span that enqueued the job (the outbox row's), if it was traced */
  traceparent: string | null
}

/**
 * Tracing, as the rest of Atrium sees it: no OpenTelemetry type crosses this line, so a process
 * with tracing off never loads an OpenTelemetry module (src/platform/telemetry/index.ts decides,
 * src/platform/telemetry/sdk.ts is the only door to the SDK).
 */
export interface Telemetry {
  /** registered before every other plugin: the server span of each request, named after its route */
  readonly fastifyPlugin: FastifyPluginCallback
  /** the span of the work in progress (a request's server span, a job's span), if any */
  activeSpan: () => SpanIds | undefined
  /** spans for the Database's reads and transactions, children of the active span */
  readonly database: DatabaseObserver
  /** runs one attempt of a job inside its own span, a child of the span that enqueued it */
  job: <T>(run: JobRun, fn: (span: SpanIds) => Promise<T>) => Promise<T>
  /** exports what is buffered and stops */
  shutdown: () => Promise<void>
}
