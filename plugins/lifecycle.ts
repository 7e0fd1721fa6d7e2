import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

/**
 * Shutdown state shared by the readiness check and the server entry: once draining, /readyz
 * answers 503 so nginx or a load balancer stops sending before the server stops accepting.
 *
 * No `Connection: close` while draining: tried (issue 17), it made clients that reuse a connection
 * without reading that header (autocannon in test-faults/sigterm.test.ts) lose answers to writes
 * the server had made. nginx's upstream keepalive_timeout (4 s) below SHUTDOWN_DELAY_MS closes its
 * idle connections to a draining instance instead.
 */
async function lifecyclePlugin (app: FastifyInstance): Promise<void> {
  app.decorate('lifecycle', { draining: false })
}

export default fp(lifecyclePlugin, { name: 'lifecycle', fastify: '5.x' })
