import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from './logger.ts'
import type { Redis } from './redis.ts'

/**
 * The wire format of cross-instance cache invalidation, shared by the API's plugin
 * (plugins/invalidation.ts, which publishes and subscribes) and processes without an app (the
 * worker, which only publishes): channel `<REDIS_PREFIX>invalidate`, message `<kind> <key>`.
 */
/** What a cache entry is about; the key names the entry (a tenant id or slug, `tenant:user`, a user id). */
export type InvalidationKind = 'tenant' | 'membership' | 'user' | 'flags'
export type InvalidationMessage = readonly [kind: InvalidationKind, key: string]
export type InvalidationHandler = (key: string) => void

/** What services see of invalidation (the app's `app.invalidation`, plugins/invalidation.ts). */
export interface Invalidation {
  /**
   * Drops the entry here at once and on every other instance through Redis pub/sub. Call it after
   * the change has committed. Never rejects: a message Redis does not take is kept and sent again.
   */
  publish: (kind: InvalidationKind, key: string) => Promise<void>
  on: (kind: InvalidationKind, handler: InvalidationHandler) => void
  /** called with no key when messages may have been missed (the subscriber reconnected): drop everything */
  onResync: (handler: () => void) => void
}

/** The key of a `membership` message: one user's membership of one tenant. */
export const membershipKey = (tenantId: string, userId: string) => `${tenantId}:${userId}`

export function parseMembershipKey (key: string): { tenantId: string, userId: string } | undefined {
  const separator = key.indexOf(':')
  return separator > 0 ? { tenantId: key.slice(0, separator), userId: key.slice(separator + 1) } : undefined
}

export const invalidationChannel = (prefix: string) => `${prefix}invalidate`
export const encodeInvalidation = (kind: InvalidationKind, key: string) => `${kind} ${key}`

/**
 * Tells every instance to drop every cache: sent instead of the messages an instance could not
 * publish when too many were waiting. Not an InvalidationKind: no handler listens to it by kind.
 */
export const RESYNC_MESSAGE = 'resync *'

export function decodeInvalidation (message: string): InvalidationMessage | undefined {
  const separator = message.indexOf(' ')
  return separator > 0 ? [message.slice(0, separator) as InvalidationKind, message.slice(separator + 1)] : undefined
}

const PUBLISH_ATTEMPTS = 5
const PUBLISH_RETRY_FIRST_MS = 100

/**
 * Drops cached entries on every API instance from a process that has no app (the worker), after
 * the change has committed. A message Redis refuses is sent again with backoff (about 1.5 s in all),
 * then this throws, so the job is retried and publishes again: a lost message would let the
 * change go unseen on other instances until their TTLs.
 */
export async function publishInvalidations (redis: Redis, prefix: string, log: Logger, messages: readonly InvalidationMessage[]): Promise<void> {
  const channel = invalidationChannel(prefix)
  for (const [kind, key] of messages) {
    for (let attempt = 1; ; attempt++) {
      try {
        await redis.publish(channel, encodeInvalidation(kind, key))
        break
      } catch (error) {
        if (attempt >= PUBLISH_ATTEMPTS) throw error
        if (attempt === 1) log.warn({ err: { message: (error as Error).message }, kind }, 'cache invalidation not published yet; retrying')
        await sleep(PUBLISH_RETRY_FIRST_MS * 2 ** (attempt - 1))
      }
    }
  }
}
