import { Redis } from 'ioredis'
import { createSql } from '../src/platform/db/client.ts'
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
  const redis = new Redis(context.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${context.redisPrefix}bull:*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.unlink(...keys)
      cursor = next
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}
