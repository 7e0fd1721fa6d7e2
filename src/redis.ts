import { Redis, type RedisOptions } from 'ioredis'

export type { Redis }

export interface RedisClientOptions {
  connectionName: string
  /** BullMQ needs null here: its blocking commands must wait, not fail */
  maxRetriesPerRequest?: number | null
  offlineQueue?: boolean
}

/** Reconnects forever, backing off up to one second, so a Redis that returns is picked up at once. */
export function createRedis (url: string, options: RedisClientOptions): Redis {
  const redisOptions: RedisOptions = {
    connectionName: options.connectionName,
    maxRetriesPerRequest: options.maxRetriesPerRequest === undefined ? 1 : options.maxRetriesPerRequest,
    enableOfflineQueue: options.offlineQueue ?? false,
    connectTimeout: 2_000,
    retryStrategy: attempt => Math.min(50 * 2 ** attempt, 1_000),
    lazyConnect: false
  }
  return new Redis(url, redisOptions)
}
