import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

/**
 * Shutdown state shared by the readiness check and the server entry: once draining, /readyz
 * answers 503 so nginx or a load balancer stops sending before the server stops accepting.
 */
async function lifecyclePlugin (app: FastifyInstance): Promise<void> {
  app.decorate('lifecycle', { draining: false })
}

export default fp(lifecyclePlugin, { name: 'lifecycle', fastify: '5.x' })
