import type { Config } from '../../config.ts'
import { flushLastSeen, lastSeenKey } from './service.ts'
import type { JobType } from '../../platform/jobs/registry.ts'

export const FLUSH_LAST_SEEN_JOB = 'users.flush-last-seen'

/** Every LAST_SEEN_FLUSH_MS, moves the last-seen times recorded in Redis to users.last_seen_at (src/features/last-seen/service.ts). */
export function flushLastSeenJob (config: Pick<Config, 'REDIS_PREFIX' | 'LAST_SEEN_FLUSH_MS'>): JobType {
  const key = lastSeenKey(config.REDIS_PREFIX)
  return {
    queue: 'maintenance',
    name: FLUSH_LAST_SEEN_JOB,
    repeatEveryMs: config.LAST_SEEN_FLUSH_MS,
    // the next run comes within the interval and takes what this one left
    retry: { attempts: 1 },
    async handler (_payload, job) {
      const result = await flushLastSeen({ redis: job.redis, db: job.db, key })
      if (result.entries > 0) job.log.debug(result, 'last seen flushed')
    }
  }
}
