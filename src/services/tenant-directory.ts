import { LRUCache } from 'lru-cache'
import type { Database } from '../db/database.ts'
import type { Invalidation } from '../../plugins/invalidation.ts'
import type { Role } from '../permissions.ts'

export interface Tenant {
  id: string
  slug: string
  name: string
  created_at: Date
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const MAX_ENTRIES = 10_000
const TTL_MS = 60_000
/** "no such tenant" and "not a member" are remembered briefly; a change invalidates them anyway */
const NEGATIVE_TTL_MS = 5_000

type Cached<T> = { value: T }

/**
 * In-process caches of tenants (by slug and by id) and memberships (tenant:user → role), bounded
 * and expiring, dropped across instances through the invalidation channel. `peek*` answer from
 * memory only (undefined = not cached), `load*` ask PostgreSQL on a miss.
 */
export class TenantDirectory {
  private readonly tenants = new LRUCache<string, Cached<Tenant | null>>({ max: MAX_ENTRIES, ttl: TTL_MS })
  private readonly roles = new LRUCache<string, Cached<Role | null>>({ max: MAX_ENTRIES * 5, ttl: TTL_MS })

  constructor (private readonly db: Database, invalidation: Invalidation) {
    invalidation.on('tenant', key => this.forgetTenant(key))
    invalidation.on('membership', key => { this.roles.delete(key) })
    invalidation.onResync(() => {
      this.tenants.clear()
      this.roles.clear()
    })
  }

  peekTenant (key: string): Tenant | null | undefined {
    return this.tenants.get(key)?.value
  }

  peekRole (tenantId: string, userId: string): Role | null | undefined {
    return this.roles.get(`${tenantId}:${userId}`)?.value
  }

  async loadTenant (key: string): Promise<Tenant | null> {
    const cached = this.tenants.get(key)
    if (cached !== undefined) return cached.value
    const byId = uuidPattern.test(key)
    const [tenant] = await this.db.read('tenant by key', null, sql => byId
      ? sql<Tenant[]>`select id, slug, name, created_at from tenants where id = ${key}`
      : sql<Tenant[]>`select id, slug, name, created_at from tenants where slug = ${key}`)
    if (tenant === undefined) {
      this.tenants.set(key, { value: null }, { ttl: NEGATIVE_TTL_MS })
      return null
    }
    this.tenants.set(tenant.id, { value: tenant })
    this.tenants.set(tenant.slug, { value: tenant })
    return tenant
  }

  async loadRole (tenantId: string, userId: string): Promise<Role | null> {
    const key = `${tenantId}:${userId}`
    const cached = this.roles.get(key)
    if (cached !== undefined) return cached.value
    const [row] = await this.db.read('membership', tenantId, (sql, scope) =>
      sql<Array<{ role: Role }>>`select role from tenant_membership(${tenantId}, ${userId}, ${scope.tag})`)
    const role = row?.role ?? null
    this.roles.set(key, { value: role }, role === null ? { ttl: NEGATIVE_TTL_MS } : {})
    return role
  }

  private forgetTenant (key: string): void {
    const tenant = this.tenants.get(key)?.value
    this.tenants.delete(key)
    if (tenant) {
      this.tenants.delete(tenant.id)
      this.tenants.delete(tenant.slug)
    }
  }
}
