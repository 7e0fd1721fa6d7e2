import type { Static } from '@sinclair/typebox'
import type { Database } from '../../platform/db/database.ts'
import { isUniqueViolation } from '../../platform/db/errors.ts'
import { AppError, conflict } from '../../platform/errors.ts'
import { uuidv7 } from '../../platform/ids.ts'
import { type Invalidation, membershipKey } from '../../platform/invalidation.ts'
import { recordAudit } from '../audit/index.ts'
import type { NewTenantBody } from './schemas.ts'
import type { Tenant } from './tenant-directory.ts'

export type NewTenant = Static<typeof NewTenantBody>

/** Tenants as a whole: creating one (its members are MembersService's, its lookups TenantDirectory's). */
export class TenantsService {
  constructor (private readonly db: Database, private readonly invalidation: Invalidation) {}

  /** Creates a tenant with the caller as its owner, audited, in one transaction. */
  async create (ownerId: string, input: NewTenant): Promise<Tenant> {
    const id = uuidv7()
    let tenant: Tenant
    try {
      tenant = await this.db.transaction(id, async tx => {
        // the request's user comes from a cache that may not have heard of an account deletion;
        // FOR SHARE also makes a concurrent deletion wait for this tenant and then see it
        const [owner] = await tx`select 1 from users where id = ${ownerId} and deleted_at is null for share`
        if (owner === undefined) throw new AppError('unauthenticated', { detail: 'the user of this token no longer exists' })
        const [created] = await tx<Tenant[]>`insert into tenants (id, slug, name) values (${id}, ${input.slug}, ${input.name})
          returning id, slug, name, created_at`
        await tx`insert into memberships (tenant_id, user_id, role) values (${id}, ${ownerId}, 'owner')`
        await recordAudit(tx, { tenantId: id, action: 'created', objectType: 'tenant', objectId: id, changes: { slug: [null, input.slug], name: [null, input.name] } })
        return created as Tenant
      })
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`the slug ${input.slug} is taken`)
      throw error
    }
    // "no such tenant" may be cached under this slug, and "not a member" under the owner
    await this.invalidation.publish('tenant', input.slug)
    await this.invalidation.publish('membership', membershipKey(id, ownerId))
    return tenant
  }
}
