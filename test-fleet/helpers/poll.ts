import { setTimeout as sleep } from 'node:timers/promises'

export interface Enforced {
  /** ms from `since` until the check first held, or undefined when it never did in time */
  afterMs: number | undefined
  polls: number
}

/**
 * Polls `holds` every 50 ms until it is true or `withinMs` have passed since `since` (the moment
 * the change was answered): a bounded wait that reports how long the change took to show.
 */
export async function pollUntil (holds: () => Promise<boolean>, since: number, withinMs: number): Promise<Enforced> {
  let polls = 0
  for (;;) {
    polls++
    if (await holds()) return { afterMs: Date.now() - since, polls }
    if (Date.now() - since >= withinMs) return { afterMs: undefined, polls }
    await sleep(50)
  }
}
