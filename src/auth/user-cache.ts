import { LRUCache } from 'lru-cache'

/** What authentication needs to know of a user, per request. */
export interface AuthUser {
  name: string
  email: string
  isStaff: boolean
  /** anonymized (or never existed): its tokens no longer authenticate */
  deleted: boolean
}

export type AuthUserLoader = (userId: string) => Promise<AuthUser>

export interface UserCacheOptions {
  max?: number
  ttlMs?: number
}

/**
 * Users by id, in process, bounded and expiring, so a steady-state authenticated request asks
 * PostgreSQL nothing. Concurrent misses for one user share one load. An entry dropped while its
 * load is in flight (the user changed meanwhile) is not stored when the load lands: the next
 * request reads the database again instead of keeping the old row for a TTL.
 */
export class UserCache {
  private readonly entries: LRUCache<string, AuthUser>
  private readonly loading = new Map<string, Promise<AuthUser>>()
  /** bumped by every drop; a load stores its result only if none happened since it started */
  private generation = 0

  constructor (private readonly loader: AuthUserLoader, options: UserCacheOptions = {}) {
    this.entries = new LRUCache({ max: options.max ?? 10_000, ttl: options.ttlMs ?? 60_000 })
  }

  /** From memory only: undefined when not cached. */
  peek (userId: string): AuthUser | undefined {
    return this.entries.get(userId)
  }

  async load (userId: string): Promise<AuthUser> {
    const cached = this.entries.get(userId)
    if (cached !== undefined) return cached
    const pending = this.loading.get(userId)
    if (pending !== undefined) return pending
    const generation = this.generation
    const load = this.loader(userId).then(user => {
      if (this.generation === generation) this.entries.set(userId, user)
      return user
    }).finally(() => {
      if (this.loading.get(userId) === load) this.loading.delete(userId)
    })
    this.loading.set(userId, load)
    return load
  }

  drop (userId: string): void {
    this.generation++
    this.entries.delete(userId)
    this.loading.delete(userId)
  }

  clear (): void {
    this.generation++
    this.entries.clear()
    this.loading.clear()
  }
}
