import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api'
import type { DatabaseObserver } from '../db/database.ts'
import { sqlState } from '../db/errors.ts'
import { AppError } from '../errors.ts'

const DB_ATTRIBUTES: Attributes = Object.freeze({
  'db.system.name': 'postgresql',
  // the name before semantic conventions 1.26, which many backends still key on
  'db.system': 'postgresql'
})

/**
 * Spans for the Database's reads (named after the read: `article by id`) and transactions, as
 * children of the active span: a request's or a job's. Work outside both (the relay's polls,
 * /readyz probes, untraced paths) and unsampled traces get none. No statement text and no
 * parameter is recorded: the name, the row count, the SQLSTATE of a failure and the duration.
 */
export function databaseSpans (tracer: Tracer): DatabaseObserver {
  async function observe<T> (name: string, run: () => Promise<T>): Promise<T> {
    const parent = context.active()
    if (trace.getSpan(parent)?.isRecording() !== true) return await run()
    const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes: DB_ATTRIBUTES }, parent)
    try {
      const result = await run()
      if (Array.isArray(result)) span.setAttribute('db.response.returned_rows', result.length)
      return result
    } catch (error) {
      recordFailure(span, error)
      throw error
    } finally {
      span.end()
    }
  }
  return {
    read: observe,
    transaction: async run => await observe('transaction', run)
  }
}

/** The SQLSTATE (or the problem code of an AppError: `timeout`), never the message, which may quote a value. */
function recordFailure (span: Span, error: unknown): void {
  if (error instanceof AppError) {
    span.setAttribute('error.type', error.code)
  } else {
    const code = sqlState(error)
    if (code !== undefined) span.setAttribute('db.response.status_code', code)
    span.setAttribute('error.type', code ?? (error instanceof Error ? error.name : 'error'))
  }
  span.setStatus({ code: SpanStatusCode.ERROR })
}
