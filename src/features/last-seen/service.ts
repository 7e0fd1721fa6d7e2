import type { Database } from '../../platform/db/database.ts'
import { UUID } from '../../platform/ids.ts'
import type { ServiceLog } from '../../platform/logger.ts'
import type { Redis } from '../../platform/redis.ts'

/**
 * Last seen without hot rows. A request notes its user in process; at most once per user and
 * clock minute that becomes one fire-and-forget ZADD (user id → epoch seconds) into a Redis sorted
 * set. A repeatable job (src/features/last-seen/jobs.ts) moves the set to users.last_seen_at in one
 * statement per batch. No request ever writes to the database for it.
 */

/** The sorted set of user id → epoch seconds last seen, not yet flushed. */
export const lastSeenKey = (redisPrefix: string): string => `${redisPrefix}last-seen`

const MINUTE_MS = 60_000

/**
 * The request side. Only users already recorded in the current minute are remembered, so memory
 * holds the users of one minute and a new minute starts empty.
 */
export class LastSeenRecorder {
  private minute = -1
  private readonly recorded = new Set<string>()

  constructor (
    private readonly redis: Redis,
    private readonly key: string,
    private readonly log: ServiceLog,
    private readonly now: () => number = Date.now
  ) {}

  /** Notes a request of the user. Never waits and never throws: last seen is best effort. */
  seen (userId: string): void {
    const now = this.now()
    const minute = Math.floor(now / MINUTE_MS)
    if (minute !== this.minute) {
      this.minute = minute
      this.recorded.clear()
    }
    if (this.recorded.has(userId)) return
    this.recorded.add(userId)
    // GT: another instance's later write is never overwritten by an earlier one
    this.redis.zadd(this.key, 'GT', Math.floor(now / 1000), userId).catch((error: Error) => {
      this.log.debug({ err: { message: error.message } }, 'last seen not recorded in Redis')
    })
  }
}

/**
 * Removes the flushed entries whose score is still the flushed one: a user seen again meanwhile
 * (a higher score) stays for the next flush. Atomic, so no write between check and removal is lost.
 */
const REMOVE_FLUSHED = `
local removed = 0
for i = 1, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return removed`

export interface FlushResult {
  /** entries taken from Redis */
  entries: number
  /** users whose last_seen_at moved forward */
  updated: number
}

export interface FlushOptions {
  redis: Redis
  db: Database
  key: string
  batchSize?: number
  /** bounds one run; what is left waits for the next */
  maxBatches?: number
}

/**
 * Moves recorded last-seen times to users.last_seen_at, a batch at a time, oldest first: one UPDATE
 * per batch, then the batch is removed from Redis only after it committed (a failed run leaves it
 * for the retry). Running it twice changes nothing more: a time never moves back, and an unchanged
 * row is not rewritten.
 */
export async function flushLastSeen (options: FlushOptions): Promise<FlushResult> {
  const { redis, db, key } = options
  const batchSize = options.batchSize ?? 5_000
  const maxBatches = options.maxBatches ?? 100
  const result: FlushResult = { entries: 0, updated: 0 }
  for (let round = 0; round < maxBatches; round++) {
    const flat = await redis.zrange(key, 0, batchSize - 1, 'WITHSCORES')
    if (flat.length === 0) break
    const userIds: string[] = []
    const seconds: number[] = []
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const userId = flat[i] as string
      const at = Number(flat[i + 1])
      // a malformed entry would fail the whole statement forever: it is dropped with the batch
      if (UUID.test(userId) && Number.isFinite(at) && at > 0) {
        userIds.push(userId)
        seconds.push(at)
      }
    }
    if (userIds.length > 0) {
      const updated = await db.transaction(null, tx => tx`
        update users u set last_seen_at = greatest(u.last_seen_at, to_timestamp(seen.at))
        from unnest(${userIds}::uuid[], ${seconds}::float8[]) as seen (user_id, at)
        where u.id = seen.user_id and u.deleted_at is null
          and (u.last_seen_at is null or u.last_seen_at < to_timestamp(seen.at))`)
      result.updated += updated.count
    }
    await redis.eval(REMOVE_FLUSHED, 1, key, ...flat)
    result.entries += flat.length / 2
    if (flat.length < batchSize * 2) break
  }
  return result
}
