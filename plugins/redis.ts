import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createRedis } from '../src/platform/redis.ts'

/** The app's Redis connection: fails fast while Redis is away instead of queueing commands. */
async function redisPlugin (app: FastifyInstance): Promise<void> {
  const redis = createRedis(app.config.REDIS_URL, { connectionName: 'atrium-api' })
  redis.on('error', (error: Error) => {
    app.log.warn({ err: { message: error.message } }, 'redis connection error')
  })
  app.decorate('redis', redis)
  app.addHook('onClose', async () => {
    redis.disconnect()
  })
}

export default fp(redisPlugin, { name: 'redis', fastify: '5.x' })
