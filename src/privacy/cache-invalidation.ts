import type { Logger } from '../logger.ts'
import type { Redis } from '../redis.ts'
import type { InvalidationKind } from '../../plugins/invalidation.ts'

export type InvalidationMessage = readonly [kind: InvalidationKind, key: string]

/**
 * Drops cached entries on every API instance from a process that has no app (the worker): the
 * channel and message format of plugins/invalidation.ts, `<prefix>invalidate` and `<kind> <key>`.
 * A failed publish is logged, not thrown: the change is committed, and caches expire by TTL.
 */
export async function publishInvalidations (redis: Redis, prefix: string, log: Logger, messages: readonly InvalidationMessage[]): Promise<void> {
  const channel = `${prefix}invalidate`
  for (const [kind, key] of messages) {
    try {
      await redis.publish(channel, `${kind} ${key}`)
    } catch (error) {
      log.warn({ err: { message: (error as Error).message }, kind }, 'cache invalidation not published; instances rely on TTL')
      return
    }
  }
}
