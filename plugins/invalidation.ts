import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createRedis } from '../src/redis.ts'
import { decodeInvalidation, encodeInvalidation, invalidationChannel, type InvalidationKind } from '../src/invalidation.ts'

/** What a cache entry is about; the key names the entry (a tenant id or slug, `tenant:user`, a user id). */
export type { InvalidationKind }
export type InvalidationHandler = (key: string) => void

export interface Invalidation {
  /** drops the entry here at once and on every other instance through Redis pub/sub */
  publish: (kind: InvalidationKind, key: string) => Promise<void>
  on: (kind: InvalidationKind, handler: InvalidationHandler) => void
  /** called with no key when messages may have been missed (the subscriber reconnected): drop everything */
  onResync: (handler: () => void) => void
}

declare module 'fastify' {
  interface FastifyInstance {
    invalidation: Invalidation
  }
}

/**
 * Cross-instance cache invalidation. In-process caches (tenants, memberships, users, flags) keep
 * the hot path free of lookups; a change publishes on one Redis channel, every instance drops the
 * entry. While Redis is away entries still expire by their TTL, and after a reconnect every cache
 * is cleared, since messages sent meanwhile are lost.
 */
async function invalidationPlugin (app: FastifyInstance): Promise<void> {
  const channel = invalidationChannel(app.config.REDIS_PREFIX)
  const handlers = new Map<InvalidationKind, InvalidationHandler[]>()
  const resyncHandlers: Array<() => void> = []
  const subscriber = createRedis(app.config.REDIS_URL, { connectionName: 'atrium-invalidation', offlineQueue: true, maxRetriesPerRequest: null })
  let connectedBefore = false

  function dispatch (kind: InvalidationKind, key: string): void {
    for (const handler of handlers.get(kind) ?? []) handler(key)
  }

  subscriber.on('error', () => {}) // the app's redis plugin already reports outages
  subscriber.on('ready', () => {
    if (connectedBefore) for (const resync of resyncHandlers) resync()
    connectedBefore = true
  })
  subscriber.on('message', (_channel: string, message: string) => {
    const decoded = decodeInvalidation(message)
    if (decoded !== undefined) dispatch(decoded[0], decoded[1])
  })
  // not awaited: with Redis away at start-up the subscription happens when it arrives (and again
  // after every reconnect), and the app still starts
  subscriber.subscribe(channel).catch((error: Error) => {
    app.log.warn({ err: { message: error.message } }, 'cache invalidation: subscribe failed, relying on TTLs')
  })

  app.decorate('invalidation', {
    async publish (kind: InvalidationKind, key: string) {
      dispatch(kind, key)
      try {
        await app.redis.publish(channel, encodeInvalidation(kind, key))
      } catch (error) {
        app.log.warn({ err: { message: (error as Error).message }, kind }, 'cache invalidation not published; other instances rely on TTL')
      }
    },
    on (kind: InvalidationKind, handler: InvalidationHandler) {
      handlers.set(kind, [...(handlers.get(kind) ?? []), handler])
    },
    onResync (handler: () => void) {
      resyncHandlers.push(handler)
    }
  })

  app.addHook('onClose', async () => {
    subscriber.disconnect()
  })
}

export default fp(invalidationPlugin, { name: 'invalidation', fastify: '5.x', dependencies: ['redis'] })
