import { TraceFlags, type Span } from '@opentelemetry/api'
import type { SpanIds } from './telemetry.ts'

/** A span's ids and its W3C traceparent. */
export function spanIdsOf (span: Span): SpanIds {
  const { traceId, spanId, traceFlags } = span.spanContext()
  const flags = (traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? '01' : '00'
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-${flags}` }
}
