import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/**
 * Shutdown state shared by the readiness check and the server entry: once draining, /readyz
 * answers 503 so nginx or a load balancer stops sending before the server stops accepting.
 *
 * While draining, every response also carries `Connection: close`, so Node ends its connection
 * after it. A proxy keeps idle keep-alive connections to each instance (nginx: `keepalive` in the
 * upstream) and would go on sending down them after readiness turned off; closed during the delay,
 * none is left when the server stops accepting, and no request meets Fastify's 503 for a closing
 * server (return503OnClosing) or a socket closed under it.
 */
async function lifecyclePlugin (app: FastifyInstance): Promise<void> {
  const lifecycle = { draining: false }
  app.decorate('lifecycle', lifecycle)
  // at send time, so a request already in flight when the delay began closes its connection too
  app.addHook('onSend', (_request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: null, payload: unknown) => void) => {
    if (lifecycle.draining) reply.header('connection', 'close')
    done(null, payload)
  })
}

export default fp(lifecyclePlugin, { name: 'lifecycle', fastify: '5.x' })
