import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Polls `check` until it gives something other than undefined, null or false, and returns that;
 * throws, naming `what`, once `timeoutMs` has passed. The one bounded wait of the test suites.
 */
export async function waitFor<T> (what: string, check: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 25): Promise<Exclude<NonNullable<T>, false>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== null && value !== false) return value as Exclude<NonNullable<T>, false>
    if (Date.now() >= deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await sleep(intervalMs)
  }
}
