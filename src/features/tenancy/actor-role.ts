import type { TransactionSql } from '../../platform/db/database.ts'
import { forbidden } from '../../platform/errors.ts'
import { can, type Permission, type Role } from './permissions.ts'

/**
 * The member acting in a tenant: the user, and its role as the request resolved it (from a cache:
 * a write re-reads it, currentRole). Every route that acts in a tenant builds it with actorOf
 * (src/http/actor.ts).
 */
export interface Actor { userId: string, role: Role }

/**
 * The actor's role in the tenant as committed now, read inside the write transaction and held
 * (FOR SHARE) until it ends, so a concurrent removal or demotion of the actor waits for this write.
 * Authorization on the request path comes from a cache that an instance which missed an
 * invalidation keeps for up to its TTL; a write must not trust it. Null: not a member (or a
 * deleted user).
 */
export async function currentRole (tx: TransactionSql, tenantId: string, userId: string): Promise<Role | null> {
  const [row] = await tx<Array<{ role: Role }>>`
    select m.role from memberships m join users u on u.id = m.user_id
    where m.tenant_id = ${tenantId} and m.user_id = ${userId} and u.deleted_at is null
    for share of m`
  return row?.role ?? null
}

/** 403 unless the role, as re-read in the transaction, grants the permission. */
export function assertGrants (role: Role | null, permission: Permission): Role {
  if (role === null || !can(role, permission)) throw forbidden(`requires ${permission}`)
  return role
}

/** The actor's current role, 403 unless it grants the permission. */
export async function assertCurrentRole (tx: TransactionSql, tenantId: string, userId: string, permission: Permission): Promise<Role> {
  return assertGrants(await currentRole(tx, tenantId, userId), permission)
}
