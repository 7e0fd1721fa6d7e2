import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { lastSeenKey, LastSeenRecorder } from '../src/features/last-seen/index.ts'

/**
 * Last seen: after an authenticated request is answered, its user is noted in process; at most once
 * per user and minute that sends one unawaited write to Redis (src/features/last-seen/service.ts). Most
 * requests pay a set lookup, none a round trip or a database write.
 */
async function lastSeenPlugin (app: FastifyInstance): Promise<void> {
  const recorder = new LastSeenRecorder(app.redis, lastSeenKey(app.config.REDIS_PREFIX), app.log)
  app.addHook('onResponse', (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    if (request.principal !== null) recorder.seen(request.principal.userId)
    done()
  })
}

export default fp(lastSeenPlugin, { name: 'last-seen', fastify: '5.x', dependencies: ['auth', 'redis'] })
