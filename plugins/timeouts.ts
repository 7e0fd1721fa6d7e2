import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify'
import { timeoutError } from '../src/platform/db/database.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** the route's time budget in ms (default REQUEST_TIMEOUT_MS): bounds every query it makes */
    timeout?: number
  }
}

const QUERY_CANCELED = '57014'
const LOCK_NOT_AVAILABLE = '55P03'

/**
 * Timeouts that fail fast and cleanly. Each route has a budget (`config.timeout`); it becomes the
 * request's deadline in the request context, which the Database data path turns into
 * statement_timeout and lock_timeout (transactions) or a query cancel (single-statement reads).
 * PostgreSQL's cancel and lock errors become 503 `timeout` with Retry-After.
 */
async function timeoutsPlugin (app: FastifyInstance): Promise<void> {
  const defaultBudget = app.config.REQUEST_TIMEOUT_MS

  app.addHook('onRoute', (route: RouteOptions) => {
    route.config = { ...route.config, timeout: route.config?.timeout ?? defaultBudget }
  })

  app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    request.ctx.deadline = Date.now() + (request.routeConfig.timeout ?? defaultBudget)
    done()
  })

  app.addErrorTranslator(error => {
    const code = (error as { code?: unknown }).code
    return code === QUERY_CANCELED || code === LOCK_NOT_AVAILABLE ? timeoutError() : undefined
  })
}

export default fp(timeoutsPlugin, { name: 'timeouts', fastify: '5.x', dependencies: ['tracing', 'errors'] })
