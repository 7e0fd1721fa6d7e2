import type { TransactionSql } from 'postgres'
import type { Database } from '../db/database.ts'
import { isUniqueViolation } from '../db/errors.ts'
import { AppError, conflict, forbidden, notFound } from '../errors.ts'
import { decodeCursor, page } from '../pagination.ts'
import type { Role } from '../permissions.ts'
import type { Invalidation } from '../../plugins/invalidation.ts'
import { membershipKey } from '../invalidation.ts'
import { recordAudit } from './audit.ts'

export interface Member {
  user: { id: string, name: string, email: string }
  role: Role
  created_at: Date
}

interface MemberRow { user_id: string, name: string, email: string, role: Role, created_at: Date }

const toMember = (row: MemberRow): Member => ({
  user: { id: row.user_id, name: row.name, email: row.email },
  role: row.role,
  created_at: row.created_at
})

export interface MemberActor { userId: string, role: Role }

/**
 * Members of one tenant. Only an owner may make, demote or remove an owner; the last owner can
 * be neither demoted nor removed (409). Every change is audited and drops the cached membership
 * on every instance.
 */
export class MembersService {
  constructor (private readonly db: Database, private readonly invalidation: Invalidation) {}

  async list (tenantId: string, limit: number, cursor?: string): Promise<{ data: Member[], next_cursor: string | null }> {
    const after = cursor === undefined ? null : decodeCursor(cursor)
    const rows = await this.db.transaction(tenantId, tx => tx<MemberRow[]>`
      select m.user_id, u.name, u.email, m.role, m.created_at
      from memberships m join users u on u.id = m.user_id
      where m.tenant_id = ${tenantId}
        ${after === null ? tx`` : tx`and (m.created_at, m.user_id) < (${after[0]}::timestamptz, ${after[1]}::uuid)`}
      order by m.created_at desc, m.user_id desc
      limit ${limit + 1}`)
    const result = page(rows, limit, row => [row.created_at.toISOString(), row.user_id])
    return { data: result.data.map(toMember), next_cursor: result.next_cursor }
  }

  async add (tenantId: string, actor: MemberActor, email: string, role: Role): Promise<Member> {
    if (role === 'owner' && actor.role !== 'owner') throw forbidden('only an owner may make an owner')
    const member = await this.db.transaction(tenantId, async tx => {
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

  async changeRole (tenantId: string, actor: MemberActor, userId: string, role: Role): Promise<Member> {
    const member = await this.db.transaction(tenantId, async tx => {
      const current = await this.lockMember(tx, tenantId, userId)
      if ((current.role === 'owner' || role === 'owner') && actor.role !== 'owner') {
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

  async remove (tenantId: string, actor: MemberActor, userId: string): Promise<void> {
    await this.db.transaction(tenantId, async tx => {
      const current = await this.lockMember(tx, tenantId, userId)
      if (current.role === 'owner' && actor.role !== 'owner') throw forbidden('only an owner may remove an owner')
      if (current.role === 'owner') await this.assertAnotherOwner(tx, tenantId, userId)
      await tx`delete from memberships where tenant_id = ${tenantId} and user_id = ${userId}`
      await recordAudit(tx, { tenantId, action: 'member_removed', objectType: 'member', objectId: userId, changes: { role: [current.role, null] } })
    })
    await this.invalidation.publish('membership', membershipKey(tenantId, userId))
  }

  /**
   * Locks the member together with every owner of the tenant, in user id order: two owners
   * demoting each other would otherwise each hold one owner row and wait for the other's (deadlock).
   */
  private async lockMember (tx: TransactionSql, tenantId: string, userId: string): Promise<MemberRow> {
    const rows = await tx<MemberRow[]>`
      select m.user_id, u.name, u.email, m.role, m.created_at
      from memberships m join users u on u.id = m.user_id
      where m.tenant_id = ${tenantId} and (m.user_id = ${userId} or m.role = 'owner')
      order by m.user_id
      for update of m`
    const row = rows.find(candidate => candidate.user_id === userId)
    if (row === undefined) throw notFound('no such member')
    return row
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
