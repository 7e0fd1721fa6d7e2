import type { Redis } from '../../src/platform/redis.ts'

/** Deletes every key matching `pattern` (SCAN, then DEL a page at a time); for tests and the bench, never the app. */
export async function deleteKeys (redis: Redis, pattern: string): Promise<void> {
  let cursor = '0'
  for (let round = 0; round < 10_000; round++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500)
    if (keys.length > 0) await redis.del(...keys)
    cursor = next
    if (cursor === '0') return
  }
}
