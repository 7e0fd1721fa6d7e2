import { context, diag, DiagLogLevel, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import type { FastifyRequest } from 'fastify'
import { databaseSpans } from './database-spans.ts'
import { diagnosticsLog } from './diagnostics.ts'
import type { TelemetrySettings } from './index.ts'
import { parseResourceAttributes } from './resource-attributes.ts'
import { samplerOf } from './sampler.ts'
import { spanIdsOf } from './span-ids.ts'
import type { JobRun, Telemetry } from './telemetry.ts'
import type { ServiceLog } from '../logger.ts'
import { withinOr } from '../within.ts'

/** How long a shutdown waits for the last export. */
const SHUTDOWN_EXPORT_MS = 2_000

/** Probes and scrapes: every few seconds from every load balancer and Prometheus, worth no trace. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics'])

async function exporterOf (protocol: TelemetrySettings['OTEL_EXPORTER_OTLP_PROTOCOL'], url: string): Promise<SpanExporter> {
  // only the chosen protocol's exporter is loaded
  if (protocol === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http')
    return new OTLPTraceExporter({ url })
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto')
  return new OTLPTraceExporter({ url })
}

/** The server span's name: the route pattern as X-Route and the metrics name it (`GET /v1/articles/:id`). */
function nameServerSpan (span: { updateName: (name: string) => unknown }, request: FastifyRequest): void {
  span.updateName(request.routeOptions.config.routeTag ?? request.method)
}

function jobSpans (tracer: Tracer): Telemetry['job'] {
  return async (run: JobRun, fn) => {
    const parent = run.traceparent === null ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, { traceparent: run.traceparent })
    const span = tracer.startSpan(`job ${run.name}`, {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'bullmq',
        'messaging.operation.type': 'process',
        'messaging.destination.name': run.queue,
        'messaging.message.id': run.jobId,
        'atrium.job.name': run.name,
        'atrium.job.attempt': run.attempt
      }
    }, parent)
    try {
      return await context.with(trace.setSpan(parent, span), async () => await fn(spanIdsOf(span)))
    } catch (error) {
      span.setAttribute('error.type', error instanceof Error ? error.name : 'error')
      span.setStatus({ code: SpanStatusCode.ERROR })
      throw error
    } finally {
      span.end()
    }
  }
}

/**
 * The OpenTelemetry SDK for this process: a tracer provider with the configured resource and
 * sampler, a batch processor exporting over OTLP/HTTP, the W3C trace-context propagator and an
 * AsyncLocalStorage context manager registered globally, and @fastify/otel for server spans.
 * Imported only by startTelemetry, when an endpoint is set.
 */
export async function createTelemetry (config: TelemetrySettings, url: string, log: Pick<ServiceLog, 'warn'>): Promise<Telemetry> {
  diag.setLogger(diagnosticsLog(log), { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true })
  const attributes = parseResourceAttributes(config.OTEL_RESOURCE_ATTRIBUTES)
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      ...attributes,
      'service.name': config.OTEL_SERVICE_NAME ?? attributes['service.name'] ?? 'atrium'
    }),
    sampler: samplerOf(config),
    spanProcessors: [new BatchSpanProcessor({ exporter: await exporterOf(config.OTEL_EXPORTER_OTLP_PROTOCOL, url) })]
  })
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  trace.setGlobalTracerProvider(provider)
  const tracer = provider.getTracer('atrium')

  // One span per request, continuing an incoming traceparent. No span per hook or for the handler:
  // the statements below it say where the time went, at a fraction of the spans.
  const fastify = new FastifyOtelInstrumentation({
    instrumentHooks: false,
    instrumentHandler: false,
    requestHook: nameServerSpan,
    ignorePaths: ({ url: path }) => UNTRACED_PATHS.has(path.split('?', 1)[0] ?? path)
  })
  fastify.setTracerProvider(provider)

  return {
    fastifyPlugin: fastify.plugin(),
    activeSpan: () => {
      const span = trace.getActiveSpan()
      return span === undefined ? undefined : spanIdsOf(span)
    },
    database: databaseSpans(tracer),
    job: jobSpans(tracer),
    // the last export may fail or hang (the collector is gone too): said, never thrown into the
    // shutdown, and bounded so that it never holds the exit past the grace period
    shutdown: async () => {
      const outcome = await withinOr(SHUTDOWN_EXPORT_MS, 'late', provider.shutdown().then(() => 'sent', (error: unknown) => error))
      if (outcome === 'sent') return
      const reason = outcome === 'late' ? `no answer within ${SHUTDOWN_EXPORT_MS} ms` : outcome instanceof Error ? outcome.message : String(outcome)
      log.warn({ component: 'opentelemetry', err: reason }, 'tracing: the last spans were not exported')
    }
  }
}
