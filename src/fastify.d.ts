import type { Redis } from 'ioredis'
import type { Config } from './config.ts'
import type { RequestContext } from './context.ts'
import type { Telemetry } from './platform/telemetry/index.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    redis: Redis
    lifecycle: { draining: boolean }
    /** tracing, when an OTLP endpoint is set (src/platform/telemetry/); undefined: off */
    telemetry: Telemetry | undefined
  }

  interface FastifyRequest {
    /** the request's context, the same object the AsyncLocalStorage store holds */
    ctx: RequestContext
    /** the matched route's config, read once by the tracing plugin (request.routeOptions allocates on every read) */
    routeConfig: FastifyContextConfig
  }

  interface FastifyContextConfig {
    /** `GET /v1/articles/:id`: sent as X-Route and used as the metrics and log label */
    routeTag?: string
  }
}
