import fp from 'fastify-plugin'
import type { FastifyContextConfig, FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify'
import { runWithContext, type RequestContext } from '../src/context.ts'
import type { SpanIds, Telemetry } from '../src/platform/telemetry/index.ts'

const traceparentPattern = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/

function traceIdOf (request: FastifyRequest): string | undefined {
  const header = request.headers.traceparent
  if (typeof header !== 'string') return undefined
  const trace = traceparentPattern.exec(header)?.[1]
  return trace === undefined || trace === '00000000000000000000000000000000' ? undefined : trace
}

type OnRequest = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

/**
 * Opens the request's context: every field from the start, one object shape for every request,
 * whichever hooks fill it in. With a span (tracing on), its ids; else the incoming traceparent's trace id.
 */
function openContext (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction, span: SpanIds | undefined): void {
  // request.routeOptions builds a fresh object on every read: read it once for every hook
  const config = request.routeOptions.config
  request.routeConfig = config
  const routeTag = config.routeTag
  const context: RequestContext = {
    requestId: request.id,
    traceId: span === undefined ? traceIdOf(request) : span.traceId,
    spanId: span?.spanId,
    traceparent: span?.traceparent,
    route: routeTag ?? 'unmatched',
    tenantId: undefined,
    userId: undefined,
    deadline: undefined
  }
  request.ctx = context
  reply.header('x-request-id', request.id)
  if (routeTag !== undefined) reply.header('x-route', routeTag)
  runWithContext(context, done)
}

const untraced: OnRequest = (request, reply, done) => { openContext(request, reply, done, undefined) }

/**
 * Tracing on: @fastify/otel (registered first, by buildApp) has opened the server span, continuing
 * an incoming traceparent. The context takes its ids, so every log line carries trace_id and
 * span_id, and the response names it in `traceresponse` (W3C Trace Context Level 2).
 */
function traced (telemetry: Telemetry): OnRequest {
  return (request, reply, done) => {
    const span = telemetry.activeSpan()
    if (span !== undefined) reply.header('traceresponse', span.traceparent)
    openContext(request, reply, done, span)
  }
}

/**
 * Request tracing: one id from nginx through the app's logs, PostgreSQL's application_name and
 * the jobs a request causes. Opens the request's AsyncLocalStorage context and answers X-Request-Id
 * and X-Route. The request id itself (src/http/request-id.ts) and the one access-log line per
 * request (src/http/access-log.ts) are Fastify server options, set by buildApp. The hook is chosen
 * once: with tracing off (app.telemetry undefined) a request pays nothing for it.
 */
async function tracingPlugin (app: FastifyInstance): Promise<void> {
  app.decorateRequest('ctx', null as unknown as RequestContext)
  app.decorateRequest('routeConfig', null as unknown as FastifyContextConfig)

  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method.join(',') : route.method
    route.config = { ...route.config, routeTag: `${methods} ${route.url}` }
  })

  app.addHook('onRequest', app.telemetry === undefined ? untraced : traced(app.telemetry))
}

export default fp(tracingPlugin, { name: 'tracing', fastify: '5.x' })
