import type { Config } from '../../config.ts'
import { flushLastSeen, lastSeenKey } from './service.ts'
import type { JobRegistry, JobType } from '../../platform/jobs/registry.ts'
import type { NoPayload } from '../../platform/jobs/job-name.ts'
import { FLUSH_LAST_SEEN_JOB } from './job-names.ts'

export interface LastSeenJobDeps {
  config: Pick<Config, 'REDIS_PREFIX' | 'LAST_SEEN_FLUSH_MS'>
}

/** Every LAST_SEEN_FLUSH_MS, moves the last-seen times recorded in Redis to users.last_seen_at (src/features/last-seen/service.ts). */
export function flushLastSeenJob (config: LastSeenJobDeps['config']): JobType<NoPayload, 'maintenance'> {
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

/** The last-seen job types: the flush. */
export function registerLastSeenJobs (registry: JobRegistry, deps: LastSeenJobDeps): JobRegistry {
  return registry.register(flushLastSeenJob(deps.config))
}
