import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { once } from 'node:events'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import { RequestMetrics } from '../src/platform/request-metrics.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** this app's Prometheus registry: plugins (jobs, domain events) register their own metrics on it */
    metrics: Registry
  }
}

// Seconds. Hot reads take a few milliseconds; the longest route budgets are tens of seconds.
const durationBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

let processRegistry: Registry | undefined

/**
 * Process and event-loop metrics (prom-client's defaults) describe the process, not an app, and
 * their collectors (an event-loop delay monitor, a GC observer) are never stopped: collect them
 * once per process, however many app instances it builds, and add them to every scrape.
 */
function processMetrics (): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

function pathOf (url: string | undefined): string | undefined {
  return url?.split('?', 1)[0]
}

/** A bare HTTP server answering only GET /metrics, so metrics can stay off the public port. */
function metricsServer (app: FastifyInstance, scrape: () => Promise<string>, contentType: string): Server {
  return createServer((request: IncomingMessage, response: ServerResponse) => {
    if ((request.method !== 'GET' && request.method !== 'HEAD') || pathOf(request.url) !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n')
      return
    }
    scrape().then(text => {
      response.writeHead(200, { 'content-type': contentType }).end(request.method === 'HEAD' ? undefined : text)
    }, (error: unknown) => {
      app.log.error({ err: error }, 'metrics scrape failed')
      response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('scrape failed\n')
    })
  })
}

/**
 * Prometheus metrics: request count and duration by route pattern, method and status class, the
 * database pool size, event-loop lag and process metrics, at GET /metrics on the API port or,
 * when METRICS_PORT is set, on a port of its own (kept away from the public port and nginx).
 */
async function metricsPlugin (app: FastifyInstance): Promise<void> {
  const registry = new Registry()
  app.decorate('metrics', registry)

  // postgres.js 3.4 exposes no pool state (open, busy or idle connections are private to it):
  // the configured ceiling is what can be reported; the data path may add in-flight query gauges.
  const poolMax = new Gauge({
    name: 'atrium_db_pool_max_connections',
    help: 'the maximum number of PostgreSQL connections in this process\'s pool',
    registers: [registry]
  })
  poolMax.set(app.config.DATABASE_POOL_MAX)

  const requests = new RequestMetrics(registry, {
    name: 'atrium_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status class'
  }, {
    name: 'atrium_http_request_duration_seconds',
    help: 'time from request received to response sent, by route pattern, method and status class'
  }, durationBuckets)
  // request.ctx.route is the route's tag (`GET /healthz`, else 'unmatched') that tracing already
  // read for this request; request.routeOptions would build a fresh object on every call.
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    requests.seriesFor(request.ctx?.route ?? 'unmatched', request.method, reply.statusCode).observe(reply.elapsedTime / 1000)
    done()
  })

  const processRegistry = processMetrics()
  const contentType = registry.contentType
  const scrape = async (): Promise<string> => {
    const [own, process] = await Promise.all([registry.metrics(), processRegistry.metrics()])
    return `${own}\n${process}`
  }

  const port = app.config.METRICS_PORT
  if (port === 0) {
    app.get('/metrics', { config: { public: true } }, async (_request, reply) => {
      reply.type(contentType)
      return await scrape()
    })
    return
  }

  const server = metricsServer(app, scrape, contentType)
  app.addHook('onReady', async () => {
    server.listen(port, app.config.HOST)
    await once(server, 'listening')
    app.log.info(`metrics on http://${app.config.HOST}:${port}/metrics`)
  })
  app.addHook('onClose', async () => {
    if (!server.listening) return
    const closed = once(server, 'close')
    server.close()
    server.closeAllConnections()
    await closed
  })
}

export default fp(metricsPlugin, { name: 'metrics', fastify: '5.x', dependencies: ['tracing'] })
