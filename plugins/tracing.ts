import fp from 'fastify-plugin'
import type { FastifyContextConfig, FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify'
import { runWithContext, type RequestContext } from '../src/context.ts'

const traceparentPattern = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/

function traceIdOf (request: FastifyRequest): string | undefined {
  const header = request.headers.traceparent
  if (typeof header !== 'string') return undefined
  const trace = traceparentPattern.exec(header)?.[1]
  return trace === undefined || trace === '00000000000000000000000000000000' ? undefined : trace
}

/**
 * Request tracing: one id from nginx through the app's logs, PostgreSQL's application_name and
 * the jobs a request causes. Opens the request's AsyncLocalStorage context and answers X-Request-Id
 * and X-Route. The request id itself (src/http/request-id.ts) and the one access-log line per
 * request (src/http/access-log.ts) are Fastify server options, set by buildApp.
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
