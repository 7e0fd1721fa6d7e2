import { Redis, type RedisOptions } from 'ioredis'

export type { Redis }

export interface RedisClientOptions {
  connectionName: string
  /** BullMQ needs null here: its blocking commands must wait, not fail */
  maxRetriesPerRequest?: number | null
  offlineQueue?: boolean
}

/**
 * How long a command of a fail-fast client may wait for its answer. Committed writes await their
 * cache invalidation publishes: a Redis that is connected but answers nothing (hung, paused,
 * a black-holed network) would otherwise hold the response until the route budget turns the
 * committed change into a 503. Well under the default route budget (REQUEST_TIMEOUT_MS, 5 s).
 */
export const COMMAND_TIMEOUT_MS = 1_000

/**
 * Reconnects forever, backing off up to one second, so a Redis that returns is picked up at once.
 * Fail-fast clients (the default) also bound every command by COMMAND_TIMEOUT_MS; clients with
 * maxRetriesPerRequest null (BullMQ's, the subscriber) wait, as blocking commands must.
 */
export function createRedis (url: string, options: RedisClientOptions): Redis {
  const waits = options.maxRetriesPerRequest === null
  const redisOptions: RedisOptions = {
    connectionName: options.connectionName,
    maxRetriesPerRequest: options.maxRetriesPerRequest === undefined ? 1 : options.maxRetriesPerRequest,
    ...(waits ? {} : { commandTimeout: COMMAND_TIMEOUT_MS }),
    enableOfflineQueue: options.offlineQueue ?? false,
    connectTimeout: 2_000,
    retryStrategy: attempt => Math.min(50 * 2 ** attempt, 1_000),
    lazyConnect: false
  }
  return new Redis(url, redisOptions)
}
