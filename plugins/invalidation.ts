import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { OutageLog } from '../src/platform/outage-log.ts'
import { createRedis } from '../src/platform/redis.ts'
import { decodeInvalidation, encodeInvalidation, invalidationChannel, RESYNC_MESSAGE, type Invalidation, type InvalidationHandler, type InvalidationKind } from '../src/platform/invalidation.ts'

declare module 'fastify' {
  interface FastifyInstance {
    invalidation: Invalidation
  }
}

/** messages waiting for Redis; past this they are replaced by one RESYNC_MESSAGE */
const MAX_UNSENT = 10_000
const RETRY_FIRST_MS = 100
const RETRY_MAX_MS = 5_000

/**
 * Cross-instance cache invalidation. In-process caches (tenants, memberships, users, flags) keep
 * the hot path free of lookups; a change publishes on one Redis channel, every instance drops the
 * entry.
 *
 * Surviving a Redis outage:
 * - publishing: a message Redis refuses stays in a bounded queue (deduplicated, a repeat of a
 *   waiting message is already covered by it) and is sent again with backoff and as soon as the
 *   connection is ready again; too many waiting become one "drop everything" message;
 * - subscribing: messages sent while this instance was not subscribed are lost, so once the
 *   subscription is confirmed again every cache is cleared. Not on `ready`: ioredis re-sends
 *   SUBSCRIBE there, and an entry loaded between the clear and the confirmation, changed by a
 *   message published in that gap, would outlive the outage.
 * Entries still expire by their TTL, the bound for anything else missed.
 */
async function invalidationPlugin (app: FastifyInstance): Promise<void> {
  const channel = invalidationChannel(app.config.REDIS_PREFIX)
  const handlers = new Map<InvalidationKind, InvalidationHandler[]>()
  const resyncHandlers: Array<() => void> = []
  const subscriber = createRedis(app.config.REDIS_URL, { connectionName: 'atrium-invalidation', offlineQueue: true, maxRetriesPerRequest: null })
  let subscribedBefore = false
  let closing = false

  function dispatch (kind: InvalidationKind, key: string): void {
    for (const handler of handlers.get(kind) ?? []) handler(key)
  }

  function resync (): void {
    for (const handler of resyncHandlers) handler()
  }

  subscriber.on('error', () => {}) // the app's redis plugin already reports outages
  subscriber.on('ready', () => {
    // ioredis has re-sent SUBSCRIBE itself on a reconnect; this one's reply, on the same
    // connection, comes after that one's, so once it is in the channel is ours again
    subscriber.subscribe(channel).then(() => {
      if (subscribedBefore) resync()
      subscribedBefore = true
    }, (error: Error) => {
      if (!closing) app.log.warn({ err: { message: error.message } }, 'cache invalidation: subscribe failed, relying on TTLs until the next reconnect')
    })
  })
  subscriber.on('message', (_channel: string, message: string) => {
    if (message === RESYNC_MESSAGE) return resync()
    const decoded = decodeInvalidation(message)
    if (decoded !== undefined) dispatch(decoded[0], decoded[1])
  })

  // insertion-ordered; a message is taken out while it is being sent, so one added meanwhile (a
  // later change of the same entry) is sent again after it
  const unsent = new Set<string>()
  let sending: Promise<void> | undefined
  let retryTimer: NodeJS.Timeout | undefined
  let retryDelay = RETRY_FIRST_MS
  const outage = new OutageLog(app.log, {
    failed: 'cache invalidation not published; kept and retried',
    recovered: 'cache invalidation: unsent messages delivered',
    err: 'message',
    timed: true
  })

  function enqueue (message: string): void {
    if (unsent.has(RESYNC_MESSAGE)) return
    if (unsent.size >= MAX_UNSENT) {
      app.log.warn({ unsent: unsent.size }, 'cache invalidation: too many unsent messages, every instance will drop every cache instead')
      unsent.clear()
      unsent.add(RESYNC_MESSAGE)
      return
    }
    unsent.add(message)
  }

  /** never rejects: a refused publish keeps its message and retries later (sendUnsent), so callers need not wait */
  function send (): Promise<void> {
    sending ??= sendUnsent().finally(() => {
      sending = undefined
      // added while the last one was being sent, after the loop's last look
      if (unsent.size > 0 && retryTimer === undefined && !closing) void send()
    })
    return sending
  }

  async function sendUnsent (): Promise<void> {
    clearTimeout(retryTimer)
    retryTimer = undefined
    for (let message = first(unsent); message !== undefined; message = first(unsent)) {
      unsent.delete(message)
      try {
        await app.redis.publish(channel, message)
      } catch (error) {
        unsent.add(message)
        retryLater(error as Error)
        return
      }
    }
    outage.recovered()
    retryDelay = RETRY_FIRST_MS
  }

  function retryLater (error: Error): void {
    outage.failed(error, { unsent: unsent.size })
    if (closing) return
    retryTimer = setTimeout(() => { void send() }, retryDelay)
    retryTimer.unref()
    retryDelay = Math.min(retryDelay * 2, RETRY_MAX_MS)
  }

  app.redis.on('ready', () => {
    if (unsent.size > 0) void send()
  })

  app.decorate('invalidation', {
    async publish (kind: InvalidationKind, key: string) {
      dispatch(kind, key)
      enqueue(encodeInvalidation(kind, key))
      await send()
    },
    on (kind: InvalidationKind, handler: InvalidationHandler) {
      handlers.set(kind, [...(handlers.get(kind) ?? []), handler])
    },
    onResync (handler: () => void) {
      resyncHandlers.push(handler)
    }
  })

  app.addHook('onClose', async () => {
    closing = true
    clearTimeout(retryTimer)
    if (unsent.size > 0) app.log.warn({ unsent: unsent.size }, 'cache invalidation: closing with unsent messages; other instances rely on TTLs')
    subscriber.disconnect()
  })
}

const first = <T>(set: Set<T>): T | undefined => set.values().next().value

export default fp(invalidationPlugin, { name: 'invalidation', fastify: '5.x', dependencies: ['redis'] })
