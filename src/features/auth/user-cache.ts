import { LRUCache } from 'lru-cache'
import { CoalescedLoads } from '../../platform/coalesced-loads.ts'

/** What authentication needs to know of a user, per request. */
export interface AuthUser {
  name: string
  email: string
  isStaff: boolean
  /** anonymized (or never existed): its tokens no longer authenticate */
  deleted: boolean
}

/**
 * How long a cached user is believed. Every change to a user is invalidated on every instance, so
 * this only bounds an instance that missed the message: a deleted user's token works there for at
 * most this long (writes re-read the user or its membership and are refused at once). Short enough
 * for that, long enough that a steady user costs one lookup per 10 s per instance.
 */
export const AUTH_CACHE_TTL_MS = 10_000

export type AuthUserLoader = (userId: string) => Promise<AuthUser>

export interface UserCacheOptions {
  max?: number
  ttlMs?: number
}

/**
 * Users by id, in process, bounded and expiring, so a steady-state authenticated request asks
 * PostgreSQL nothing. Misses are filled through CoalescedLoads: one load per user at a time, and
 * none stored that was running when the user changed.
 */
export class UserCache {
  private readonly entries: LRUCache<string, AuthUser>
  private readonly loads = new CoalescedLoads<string, AuthUser>()

  constructor (private readonly loader: AuthUserLoader, options: UserCacheOptions = {}) {
    this.entries = new LRUCache({ max: options.max ?? 10_000, ttl: options.ttlMs ?? AUTH_CACHE_TTL_MS })
  }

  /** From memory only: undefined when not cached. */
  peek (userId: string): AuthUser | undefined {
    return this.entries.get(userId)
  }

  async load (userId: string): Promise<AuthUser> {
    return this.entries.get(userId) ??
      this.loads.load(userId, () => this.loader(userId), user => { this.entries.set(userId, user) })
  }

  drop (userId: string): void {
    this.loads.invalidate()
    this.entries.delete(userId)
  }

  clear (): void {
    this.loads.invalidate()
    this.entries.clear()
  }
}
