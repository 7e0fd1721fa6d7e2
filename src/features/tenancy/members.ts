import type { Database, TransactionSql } from '../../platform/db/database.ts'
import { isUniqueViolation } from '../../platform/db/errors.ts'
import { AppError, conflict, forbidden, notFound } from '../../platform/errors.ts'
import { decodeCursor, page } from '../../platform/pagination.ts'
import type { Loaded } from '../../schemas/common.ts'
import type { Role } from './permissions.ts'
import { type Invalidation, membershipKey } from '../../platform/invalidation.ts'
import { recordAudit } from '../audit/index.ts'
import { type Actor, assertCurrentRole, assertGrants } from './actor-role.ts'
import type { Member as MemberSchema } from './schemas.ts'

/** a member as the members routes answer it, created_at the Date PostgreSQL returns */
export type Member = Loaded<typeof MemberSchema>

/** the select list of a member: the user's fields flattened, its id as user_id */
interface MemberRow extends Omit<Member, 'user'>, Omit<Member['user'], 'id'> { user_id: string }

const toMember = (row: MemberRow): Member => ({
  user: { id: row.user_id, name: row.name, email: row.email },
  role: row.role,
  created_at: row.created_at
})

/**
 * Members of one tenant. Only an owner may make, demote or remove an owner; the last owner can
 * be neither demoted nor removed (409). Every change is audited and drops the cached membership
 * on every instance. Every change authorizes from the actor's role re-read in its transaction, not
 * from the request's cached role: an instance that missed an invalidation must not let a removed
 * admin add itself back.
 */
export class MembersService {
  constructor (private readonly db: Database, private readonly invalidation: Invalidation) {}

  async list (tenantId: string, limit: number, cursor?: string): Promise<{ data: Member[], next_cursor: string | null }> {
    const after = cursor === undefined ? null : decodeCursor(cursor)
    const rows = await this.db.read('member list', tenantId, sql => sql<MemberRow[]>`
      select m.user_id, u.name, u.email, m.role, m.created_at
      from memberships m join users u on u.id = m.user_id
      where m.tenant_id = ${tenantId}
        ${after === null ? sql`` : sql`and (m.created_at, m.user_id) < (${after[0]}::timestamptz, ${after[1]}::uuid)`}
      order by m.created_at desc, m.user_id desc
      limit ${limit + 1}`)
    const result = page(rows, limit, row => [row.created_at.toISOString(), row.user_id])
    return { data: result.data.map(toMember), next_cursor: result.next_cursor }
  }

  async add (tenantId: string, actor: Actor, email: string, role: Role): Promise<Member> {
    const member = await this.db.transaction(tenantId, async tx => {
      const actorRole = await assertCurrentRole(tx, tenantId, actor.userId, 'members:manage')
      if (role === 'owner' && actorRole !== 'owner') throw forbidden('only an owner may make an owner')
      const [user] = await tx<Array<{ id: string }>>`select id from users where lower(email) = lower(${email}) and deleted_at is null`
      if (user === undefined) throw notFound('no user has that email')
      let row: MemberRow | undefined
      try {
        [row] = await tx.savepoint(sp => sp<MemberRow[]>`
          with added as (
            insert into memberships (tenant_id, user_id, role) values (${tenantId}, ${user.id}, ${role})
            returning user_id, role, created_at)
          select a.user_id, u.name, u.email, a.role, a.created_at from added a join users u on u.id = a.user_id`)
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict('already a member')
        throw error
      }
      await recordAudit(tx, { tenantId, action: 'member_added', objectType: 'member', objectId: user.id, changes: { role: [null, role] } })
      return toMember(row as MemberRow)
    })
    await this.invalidation.publish('membership', membershipKey(tenantId, member.user.id))
    return member
  }

  async changeRole (tenantId: string, actor: Actor, userId: string, role: Role): Promise<Member> {
    const member = await this.db.transaction(tenantId, async tx => {
      const { current, actorRole } = await this.lockMember(tx, tenantId, actor, userId)
      if ((current.role === 'owner' || role === 'owner') && actorRole !== 'owner') {
        throw forbidden('only an owner may make or demote an owner')
      }
      if (current.role === role) return toMember(current)
      if (current.role === 'owner') await this.assertAnotherOwner(tx, tenantId, userId)
      await tx`update memberships set role = ${role} where tenant_id = ${tenantId} and user_id = ${userId}`
      await recordAudit(tx, { tenantId, action: 'role_changed', objectType: 'member', objectId: userId, changes: { role: [current.role, role] } })
      return toMember({ ...current, role })
    })
    await this.invalidation.publish('membership', membershipKey(tenantId, userId))
    return member
  }

  async remove (tenantId: string, actor: Actor, userId: string): Promise<void> {
    await this.db.transaction(tenantId, async tx => {
      const { current, actorRole } = await this.lockMember(tx, tenantId, actor, userId)
      if (current.role === 'owner' && actorRole !== 'owner') throw forbidden('only an owner may remove an owner')
      if (current.role === 'owner') await this.assertAnotherOwner(tx, tenantId, userId)
      await tx`delete from memberships where tenant_id = ${tenantId} and user_id = ${userId}`
      await recordAudit(tx, { tenantId, action: 'member_removed', objectType: 'member', objectId: userId, changes: { role: [current.role, null] } })
    })
    await this.invalidation.publish('membership', membershipKey(tenantId, userId))
  }

  /**
   * Locks the member, the actor and every owner of the tenant in one statement, in user id order:
   * two owners demoting each other would otherwise each hold one owner row and wait for the other's
   * (deadlock). The actor's row is locked FOR UPDATE with the rest rather than FOR SHARE on its own
   * for the same reason (two admins removing each other would each hold a share lock the other
   * needs); it is what the change is authorized from (403 once the actor is no longer an admin).
   */
  private async lockMember (tx: TransactionSql, tenantId: string, actor: Actor, userId: string): Promise<{ current: MemberRow, actorRole: Role }> {
    const rows = await tx<MemberRow[]>`
      select m.user_id, u.name, u.email, m.role, m.created_at
      from memberships m join users u on u.id = m.user_id
      where m.tenant_id = ${tenantId} and (m.user_id = ${userId} or m.user_id = ${actor.userId} or m.role = 'owner')
      order by m.user_id
      for update of m`
    const actorRole = assertGrants(rows.find(candidate => candidate.user_id === actor.userId)?.role ?? null, 'members:manage')
    const current = rows.find(candidate => candidate.user_id === userId)
    if (current === undefined) throw notFound('no such member')
    return { current, actorRole }
  }

  /** Locks every owner row of the tenant, so two concurrent demotions cannot both pass. */
  private async assertAnotherOwner (tx: TransactionSql, tenantId: string, userId: string): Promise<void> {
    const owners = await tx<Array<{ user_id: string }>>`
      select user_id from memberships where tenant_id = ${tenantId} and role = 'owner' for update`
    if (!owners.some(o => o.user_id !== userId)) {
      throw new AppError('conflict', { detail: 'a tenant keeps at least one owner: make another owner first' })
    }
  }
}
