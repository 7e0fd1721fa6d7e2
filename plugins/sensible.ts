import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import sensible from '@fastify/sensible'

/**
 * @fastify/sensible's reply helpers for cache headers: `reply.cacheControl()` and `reply.vary()`
 * build the Cache-Control and Vary headers of revalidated reads (src/http/revalidation.ts) and
 * the `no-store` of the sensitive folders (src/http/folder-hooks.ts). Its `httpErrors`, `assert`
 * and reply error helpers stay unused: they make http-errors without the stable problem `code`
 * every failure carries here (AppError, plugins/errors.ts; README, API).
 */
async function sensiblePlugin (app: FastifyInstance): Promise<void> {
  await app.register(sensible)
}

export default fp(sensiblePlugin, { name: 'sensible', fastify: '5.x' })
