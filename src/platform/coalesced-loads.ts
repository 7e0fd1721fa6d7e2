/**
 * Cache fills for in-process caches. Concurrent misses for one key share one load, so a cold
 * instance under load sends one query per key instead of one per request (the bench's 50
 * connections sent ~5,000 membership queries in their first second without it). A load that was
 * running when `invalidate()` was called still answers its callers but is not stored: the cache
 * reads the database again rather than keep a row that changed meanwhile.
 */
export class CoalescedLoads<K, V> {
  private readonly pending = new Map<K, Promise<V>>()
  private generation = 0

  load (key: K, loader: () => Promise<V>, store: (value: V) => void): Promise<V> {
    const running = this.pending.get(key)
    if (running !== undefined) return running
    const generation = this.generation
    const load = loader().then(value => {
      if (this.generation === generation) store(value)
      return value
    }).finally(() => {
      if (this.pending.get(key) === load) this.pending.delete(key)
    })
    this.pending.set(key, load)
    return load
  }

  /** Called on every invalidation of the cache it fills. */
  invalidate (): void {
    this.generation++
    this.pending.clear()
  }
}
