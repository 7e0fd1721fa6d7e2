import type { DatabaseObserver } from './database.ts'

/**
 * Counts the Database calls in flight (reads and transactions), for the pool gauges of /metrics:
 * postgres.js keeps its pool state private. Each call holds one connection from its start, so the
 * pool is `min(calls, max)` in use and the calls beyond `max` wait (or, reads, are pipelined behind
 * a busy connection: waiting all the same). Costs a counter and a `then` on the call's own promise,
 * which is returned as it is: the caller waits no extra turn.
 */
export class PoolUsage implements DatabaseObserver {
  private calls = 0
  private readonly release = (): void => { this.calls-- }

  constructor (readonly max: number) {}

  get inUse (): number { return Math.min(this.calls, this.max) }
  get waiting (): number { return Math.max(0, this.calls - this.max) }

  read<T> (_name: string, run: () => Promise<T>): Promise<T> {
    return this.count(run())
  }

  transaction<T> (run: () => Promise<T>): Promise<T> {
    return this.count(run())
  }

  private count<T> (call: Promise<T>): Promise<T> {
    this.calls++
    // settled either way; the rejection itself stays the caller's to handle
    call.then(this.release, this.release)
    return call
  }
}

/** Both observers on every call: `outer` sees the call from outside `inner`. */
export function bothObservers (outer: DatabaseObserver, inner: DatabaseObserver): DatabaseObserver {
  return {
    read: (name, run) => outer.read(name, () => inner.read(name, run)),
    transaction: run => outer.transaction(() => inner.transaction(run))
  }
}
