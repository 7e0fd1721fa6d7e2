import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import fp from 'fastify-plugin'
import { LogController, type FastifyContextConfig, type FastifyInstance, type FastifyReply, type FastifyRequest, type HookHandlerDoneFunction, type RouteOptions } from 'fastify'
import { runWithContext, type RequestContext } from '../src/context.ts'

const saneRequestId = /^[A-Za-z0-9._:-]{1,128}$/
const traceparentPattern = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/

/** Fastify's genReqId: the incoming X-Request-Id when it is a sane token, else a fresh UUID. */
export function requestIdOf (request: IncomingMessage): string {
  const incoming = request.headers['x-request-id']
  return typeof incoming === 'string' && saneRequestId.test(incoming) ? incoming : randomUUID()
}

function traceIdOf (request: FastifyRequest): string | undefined {
  const header = request.headers.traceparent
  if (typeof header !== 'string') return undefined
  const trace = traceparentPattern.exec(header)?.[1]
  return trace === undefined || trace === '00000000000000000000000000000000' ? undefined : trace
}

/**
 * Fastify's own request log lines, replaced by one access-log line per request that names the
 * route pattern, status, duration, request, tenant and user. Passed to Fastify by buildApp.
 */
export class AccessLog extends LogController {
  override incomingRequest (): void {}
  override routeNotFound (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const context = request.ctx
    reply.log.info({
      request_id: request.id,
      trace_id: context?.traceId,
      method: request.method,
      route: context?.route ?? 'unmatched',
      status: reply.statusCode,
      duration_ms: Math.round(reply.elapsedTime * 100) / 100,
      tenant_id: context?.tenantId,
      user_id: context?.userId,
      ...(error ? { err: error } : {})
    }, 'request')
  }
}

/**
 * Request tracing: one id from nginx through the app's logs, PostgreSQL's application_name and
 * the jobs a request causes. Opens the request's AsyncLocalStorage context, answers X-Request-Id
 * and X-Route, and writes one access-log line per request.
 */
async function tracingPlugin (app: FastifyInstance): Promise<void> {
  app.decorateRequest('ctx', null as unknown as RequestContext)
  app.decorateRequest('routeConfig', null as unknown as FastifyContextConfig)

  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method.join(',') : route.method
    route.config = { ...route.config, routeTag: `${methods} ${route.url}` }
  })

  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    // request.routeOptions builds a fresh object on every read: read it once for every hook
    const config = request.routeOptions.config
    request.routeConfig = config
    const routeTag = config.routeTag
    // every field from the start: one object shape for every request, whichever hooks fill it in
    const context: RequestContext = {
      requestId: request.id,
      traceId: traceIdOf(request),
      route: routeTag ?? 'unmatched',
      tenantId: undefined,
      userId: undefined,
      deadline: undefined
    }
    request.ctx = context
    reply.header('x-request-id', request.id)
    if (routeTag !== undefined) reply.header('x-route', routeTag)
    runWithContext(context, done)
  })
}

export default fp(tracingPlugin, { name: 'tracing', fastify: '5.x' })
