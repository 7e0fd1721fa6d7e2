import { LRUCache } from 'lru-cache'
import type { Database } from '../../platform/db/database.ts'
import { CoalescedLoads } from '../../platform/coalesced-loads.ts'
import { type Invalidation, membershipKey, parseMembershipKey } from '../../platform/invalidation.ts'
import { isLowercaseUuid } from '../../platform/ids.ts'
import type { Loaded } from '../../schemas/common.ts'
import type { Role } from './permissions.ts'
import { SLUG_PATTERN, type Tenant as TenantSchema } from './schemas.ts'

/** A tenant as the directory holds it: the Tenant schema, created_at the Date PostgreSQL returns. */
export type Tenant = Loaded<typeof TenantSchema>

/** the slug rule of POST /v1/tenants (NewTenantBody): 3..40 characters */
const slug = new RegExp(SLUG_PATTERN)

/** A lower-cased tenant id or slug. Anything else names no tenant and is never looked up or cached. */
export function isTenantKey (key: string): boolean {
  return key.length === 36 ? isLowercaseUuid(key) : key.length >= 3 && key.length <= 40 && slug.test(key)
}
const MAX_ENTRIES = 10_000
const TTL_MS = 60_000
/**
 * A role is believed for less than a tenant: it is what grants access, and on an instance that
 * missed an invalidation a removed member keeps reading for this long (writes re-read the role).
 */
const ROLE_TTL_MS = 10_000
/** "no such tenant" and "not a member" are remembered briefly; a change invalidates them anyway */
const NEGATIVE_TTL_MS = 5_000

type Cached<T> = { value: T }

/** A user's answer for one tenant: their role, or null for "not a member". */
interface CachedMembership {
  role: Role | null
  expiresAt: number
}

/**
 * In-process caches of tenants (by slug and by id) and memberships (user → tenant → role), bounded
 * and expiring, dropped across instances through the invalidation channel. `peek*` answer from
 * memory only (undefined = not cached), `load*` ask PostgreSQL on a miss, one query per key at a time.
 *
 * Memberships are two lookups by ids the request already holds (the token's user, the tenant's
 * id) rather than one by a `tenant:user` string, which would be built and hashed on every request
 * (profiled: bench/README.md, "Hot-path notes").
 */
export class TenantDirectory {
  private readonly tenants = new LRUCache<string, Cached<Tenant | null>>({ max: MAX_ENTRIES, ttl: TTL_MS })
  /** by user id: the user's tenants seen so far (a user has few), each answer expiring on its own */
  private readonly memberships = new LRUCache<string, Map<string, CachedMembership>>({ max: MAX_ENTRIES * 5 })
  private readonly tenantLoads = new CoalescedLoads<string, Tenant | null>()
  private readonly membershipLoads = new CoalescedLoads<string, Role | null>()

  constructor (private readonly db: Database, invalidation: Invalidation) {
    invalidation.on('tenant', key => this.forgetTenant(key))
    invalidation.on('membership', key => { this.forgetMembership(key) })
    invalidation.onResync(() => {
      this.tenantLoads.invalidate()
      this.membershipLoads.invalidate()
      this.tenants.clear()
      this.memberships.clear()
    })
  }

  /** how many keys the tenant cache holds (negative answers included) */
  get cachedTenantKeys (): number {
    return this.tenants.size
  }

  peekTenant (key: string): Tenant | null | undefined {
    return this.tenants.get(key)?.value
  }

  peekRole (tenantId: string, userId: string): Role | null | undefined {
    const membership = this.memberships.get(userId)?.get(tenantId)
    return membership !== undefined && membership.expiresAt > Date.now() ? membership.role : undefined
  }

  async loadTenant (key: string): Promise<Tenant | null> {
    if (!isTenantKey(key)) return null
    const cached = this.tenants.get(key)
    if (cached !== undefined) return cached.value
    return this.tenantLoads.load(key, () => this.queryTenant(key), tenant => {
      if (tenant === null) {
        this.tenants.set(key, { value: null }, { ttl: NEGATIVE_TTL_MS })
      } else {
        this.tenants.set(tenant.id, { value: tenant })
        this.tenants.set(tenant.slug, { value: tenant })
      }
    })
  }

  async loadRole (tenantId: string, userId: string): Promise<Role | null> {
    const cached = this.peekRole(tenantId, userId)
    if (cached !== undefined) return cached
    return this.membershipLoads.load(membershipKey(tenantId, userId), () => this.queryRole(tenantId, userId), role => {
      let ofUser = this.memberships.get(userId)
      if (ofUser === undefined) {
        ofUser = new Map()
        this.memberships.set(userId, ofUser)
      }
      ofUser.set(tenantId, { role, expiresAt: Date.now() + (role === null ? NEGATIVE_TTL_MS : ROLE_TTL_MS) })
    })
  }

  private async queryTenant (key: string): Promise<Tenant | null> {
    const byId = isLowercaseUuid(key)
    const [tenant] = await this.db.read('tenant by key', null, sql => byId
      ? sql<Tenant[]>`select id, slug, name, created_at from tenants where id = ${key}`
      : sql<Tenant[]>`select id, slug, name, created_at from tenants where slug = ${key}`)
    return tenant ?? null
  }

  private async queryRole (tenantId: string, userId: string): Promise<Role | null> {
    // tenant_membership sets the tenant itself (migrations/0002): no scoping around it
    const [row] = await this.db.read('membership', null, (sql, scope) =>
      sql<Array<{ role: Role }>>`select role from tenant_membership(${tenantId}, ${userId}, ${scope.tag})`)
    return row?.role ?? null
  }

  private forgetMembership (key: string): void {
    this.membershipLoads.invalidate()
    const membership = parseMembershipKey(key)
    if (membership !== undefined) this.memberships.get(membership.userId)?.delete(membership.tenantId)
  }

  private forgetTenant (key: string): void {
    this.tenantLoads.invalidate()
    const tenant = this.tenants.get(key)?.value
    this.tenants.delete(key)
    if (tenant) {
      this.tenants.delete(tenant.id)
      this.tenants.delete(tenant.slug)
    }
  }
}
