import { createSql } from '../src/platform/db/client.ts'
import { bullPrefix } from '../src/platform/jobs/queues.ts'
import { createRedis } from '../src/platform/redis.ts'
import { deleteKeys } from '../test/helpers/redis-keys.ts'
import type { BenchContext } from './types.ts'

/**
 * Drops the work a run left for the worker (outbox rows not yet relayed, jobs still queued in
 * Redis), so that a run's worker starts with nothing to do: at full load the webhook scenario
 * enqueues faster than its worker, on the same two cores, runs the jobs, and its backlog would
 * otherwise load the runs that come after it. Called between runs, when no worker runs.
 */
export async function discardBacklog (context: BenchContext): Promise<void> {
  const sql = createSql(context.ownerUrl, { max: 1, idleTimeout: 0, applicationName: 'atrium-bench' })
  try {
    await sql`delete from outbox where relayed_at is null`
  } finally {
    await sql.end({ timeout: 5 })
  }
  const redis = createRedis(context.redisUrl, { connectionName: 'atrium-bench-backlog', offlineQueue: true })
  try {
    await deleteKeys(redis, `${bullPrefix({ REDIS_PREFIX: context.redisPrefix })}*`)
  } finally {
    redis.disconnect()
  }
}
