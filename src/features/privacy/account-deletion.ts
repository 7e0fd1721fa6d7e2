import { forEachTenant, type Database, type TransactionSql } from '../../platform/db/database.ts'
import type { Role } from '../tenancy/index.ts'
import { recordAudit } from '../audit/index.ts'
import { membershipKey, type InvalidationMessage } from '../../platform/invalidation.ts'

/** A tenant the user is a member of, as user_tenant_standing() (migrations/0008) reports it. */
export interface TenantStanding {
  tenant_id: string
  slug: string
  role: Role
  /** members of the tenant, the user included */
  members: number
  /** owners of the tenant, the user included */
  owners: number
}

export const DELETED_USER_NAME = 'Deleted user'

/** Unique and never deliverable (.invalid is reserved, RFC 2606), so the real address may register again; anonymize_user_billing() (migrations/0012) writes the same. */
export const anonymizedEmail = (userId: string): string => `deleted-${userId}@deleted.invalid`

/** A password hash verifyPassword() can never match. */
const UNUSABLE_PASSWORD_HASH = '!'

export async function tenantStanding (tx: TransactionSql, userId: string): Promise<TenantStanding[]> {
  return await tx<TenantStanding[]>`select tenant_id, slug, role, members, owners from user_tenant_standing(${userId})`
}

/** Tenants the user may not leave: it is their last owner and others remain (hand over ownership first). */
export function tenantsBlockingDeletion (standing: readonly TenantStanding[]): TenantStanding[] {
  return standing.filter(t => t.role === 'owner' && t.owners === 1 && t.members > 1)
}

export class DeletionBlockedError extends Error {
  constructor (readonly slugs: string[]) {
    super(`the user is the last owner of ${slugs.join(', ')}, which have other members`)
    this.name = 'DeletionBlockedError'
  }
}

export interface AccountDeletion {
  /** cache entries to drop on every instance, once committed */
  invalidations: InvalidationMessage[]
}

/**
 * Anonymizes a user in one transaction: deletes the tenants it was the only member of, leaves
 * the others (an 'anonymized' audit entry in each, actor null), revokes every refresh token,
 * deletes its exports, replaces its address in receipts and stored payment events, and replaces
 * its name, email and password. Articles and audit entries stay:
 * they join users for the name, so they show the anonymized one. Null when the user is already
 * anonymized (a second run does nothing). Throws DeletionBlockedError when, since the request
 * was checked, the user has become the last owner of a tenant with other members.
 */
export async function anonymizeAccount (db: Database, userId: string): Promise<AccountDeletion | null> {
  return await db.transaction(null, async tx => {
    // NO KEY UPDATE: a concurrent membership insert only needs KEY SHARE on the user and goes on
    const [user] = await tx`select id from users where id = ${userId} and deleted_at is null for no key update`
    if (user === undefined) return null

    // lock the user's tenants (id order) before counting: a member added meanwhile holds KEY SHARE
    // on its tenant, so the counts below cannot be overtaken before this commits
    const tenantIds = (await tx<Array<{ tenant_id: string }>>`select tenant_id from user_memberships(${userId})`).map(m => m.tenant_id)
    await tx`select id from tenants where id = any(${tenantIds}::uuid[]) order by id for update`
    const standing = await tenantStanding(tx, userId)
    const blocking = tenantsBlockingDeletion(standing)
    if (blocking.length > 0) throw new DeletionBlockedError(blocking.map(t => t.slug))

    const alone = standing.filter(t => t.members === 1)
    const left = standing.filter(t => t.members > 1)
    if (alone.length > 0) await tx`delete from tenants where id = any(${alone.map(t => t.tenant_id)}::uuid[])`
    // memberships and audit_log are row-level secured: work inside each tenant in turn
    await forEachTenant(tx, left, tenant => tenant.tenant_id, async tenant => {
      await tx`delete from memberships where tenant_id = ${tenant.tenant_id} and user_id = ${userId}`
      // no name or email in the entry: the audit log is append-only and would keep them
      await recordAudit(tx, {
        tenantId: tenant.tenant_id, action: 'anonymized', objectType: 'user', objectId: userId, actorId: null, changes: { role: [tenant.role, null] }
      })
    })

    await tx`update refresh_tokens set revoked_at = now() where user_id = ${userId} and revoked_at is null`
    await tx`delete from exports where user_id = ${userId}`
    // before the address is replaced below: the function finds the rows by it (migrations/0012)
    await tx`select anonymize_user_billing(${userId})`
    await tx`update users set name = ${DELETED_USER_NAME}, email = ${anonymizedEmail(userId)}, password_hash = ${UNUSABLE_PASSWORD_HASH},
      is_staff = false, last_seen_at = null, deleted_at = now(), updated_at = now()
      where id = ${userId}`

    const invalidations: InvalidationMessage[] = [['user', userId]]
    for (const tenant of standing) invalidations.push(['membership', membershipKey(tenant.tenant_id, userId)])
    for (const tenant of alone) invalidations.push(['tenant', tenant.tenant_id], ['tenant', tenant.slug])
    return { invalidations }
  })
}
