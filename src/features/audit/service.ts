import type { Static } from '@sinclair/typebox'
import { currentContext } from '../../context.ts'
import type { Database, TransactionSql } from '../../platform/db/database.ts'
import { decodeCursor, page } from '../../platform/pagination.ts'
import type { ListQuery, Loaded } from '../../schemas/common.ts'
import type { AuditEntry as AuditEntrySchema, AuditQuery } from './schemas.ts'

export type AuditAction = 'created' | 'updated' | 'deleted' | 'published' | 'scheduled' |
  'member_added' | 'role_changed' | 'member_removed' | 'subscription_changed' | 'anonymized'

/** `{ field: [old, new] }` for the fields that changed. */
export type FieldChanges = Record<string, [unknown, unknown]>

export interface AuditEntry {
  tenantId: string
  action: AuditAction
  objectType: string
  objectId: string
  changes?: FieldChanges
  /** the acting user; defaults to the request context's user (null inside a job) */
  actorId?: string | null
}

/**
 * Writes one audit entry inside the caller's transaction, so the entry exists exactly when the
 * change does. The request id comes from the context: a request's, or the one a job carries.
 */
export async function recordAudit (tx: TransactionSql, entry: AuditEntry): Promise<void> {
  const context = currentContext()
  const actorId = entry.actorId !== undefined ? entry.actorId : (context?.userId ?? null)
  await tx`insert into audit_log (tenant_id, actor_id, action, object_type, object_id, changes, request_id)
    values (${entry.tenantId}, ${actorId}, ${entry.action}, ${entry.objectType}, ${entry.objectId},
            ${tx.json((entry.changes ?? {}) as Record<string, never>)}, ${context?.requestId ?? null})`
}

/** The fields of `after` that differ from `before`, as audit changes. */
export function diff<T extends Record<string, unknown>> (before: T, after: Partial<T>): FieldChanges {
  const changes: FieldChanges = {}
  for (const key of Object.keys(after)) {
    const old = before[key]
    const next = after[key]
    if (JSON.stringify(old) !== JSON.stringify(next)) changes[key] = [old ?? null, next ?? null]
  }
  return changes
}

/** the filters of `GET /v1/audit-log`: its query without the page parameters */
export type AuditFilters = Omit<Static<typeof AuditQuery>, keyof Static<typeof ListQuery>>

/** an entry as the route answers it (the AuditEntry schema), its action one of ours, created_at a Date */
export type AuditRecord = Omit<Loaded<typeof AuditEntrySchema>, 'action'> & { action: AuditAction }

interface AuditRow extends Omit<AuditRecord, 'actor'> { actor_id: string | null, actor_name: string | null }

/** The audit log as its route reads it; entries are written by recordAudit inside each change's transaction. */
export class AuditService {
  constructor (private readonly db: Database) {}

  /** A tenant's audit log, newest first, keyset-paginated. */
  async list (tenantId: string, filters: AuditFilters, limit: number, cursor?: string): Promise<{ data: AuditRecord[], next_cursor: string | null }> {
    const after = cursor === undefined ? null : decodeCursor(cursor)
    const rows = await this.db.read('audit list', tenantId, sql => sql<AuditRow[]>`
      select a.id, a.actor_id, u.name as actor_name, a.action, a.object_type, a.object_id, a.changes, a.request_id, a.created_at
      from audit_log a left join users u on u.id = a.actor_id
      where a.tenant_id = ${tenantId}
        ${filters.object_type === undefined ? sql`` : sql`and a.object_type = ${filters.object_type}`}
        ${filters.object_id === undefined ? sql`` : sql`and a.object_id = ${filters.object_id}`}
        ${filters.actor_id === undefined ? sql`` : sql`and a.actor_id = ${filters.actor_id}`}
        ${after === null ? sql`` : sql`and (a.created_at, a.id) < (${after[0]}::timestamptz, ${after[1]}::uuid)`}
      order by a.created_at desc, a.id desc
      limit ${limit + 1}`)
    const result = page(rows, limit, row => [row.created_at.toISOString(), row.id])
    return {
      data: result.data.map(({ actor_id: actorId, actor_name: actorName, ...rest }) => ({
        ...rest,
        actor: actorId === null ? null : { id: actorId, name: actorName ?? '' }
      })),
      next_cursor: result.next_cursor
    }
  }
}
