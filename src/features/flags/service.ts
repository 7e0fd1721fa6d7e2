import { type Database, forEachTenant, type TransactionSql } from '../../platform/db/database.ts'
import { validationFailed } from '../../platform/errors.ts'
import type { Loaded } from '../../schemas/common.ts'
import type { FlagDefinition } from './evaluate.ts'
import { FLAG_KEY_PATTERN, type Flag, type FlagBody } from './schemas.ts'
import type { Invalidation } from '../../platform/invalidation.ts'
import { type AuditAction, diff, type FieldChanges, recordAudit } from '../audit/index.ts'

/** A flag as the admin API answers it (the Flag schema), updated_at the Date PostgreSQL returns. */
export type FlagRecord = Loaded<typeof Flag>

/** Everything a flag is besides its key: PUT replaces all of it. */
export type FlagInput = FlagBody

export interface FlagChange {
  flag: FlagRecord
  /** null when the flag already was exactly this: nothing written, nothing audited */
  action: Extract<AuditAction, 'created' | 'updated'> | null
  changes: FieldChanges
  /** the tenants whose audit log received the entry */
  auditedTenants: string[]
}

const FLAG_KEY = new RegExp(FLAG_KEY_PATTERN)

const inputOf = (flag: FlagDefinition): FlagInput => ({
  description: flag.description,
  enabled: flag.enabled,
  internal_only: flag.internal_only,
  tenants: flag.tenants,
  percentage: flag.percentage
})

const creationChanges = (flag: FlagInput): FieldChanges =>
  Object.fromEntries(Object.entries(flag).map(([field, value]) => [field, [null, value]]))

/** Cursor over the key order: the last key of the page, base64url. */
const encodeKeyCursor = (key: string): string => Buffer.from(key).toString('base64url')

function decodeKeyCursor (cursor: string): string {
  const key = Buffer.from(cursor, 'base64url').toString('utf8')
  if (!FLAG_KEY.test(key)) throw validationFailed('/cursor', 'is not a cursor this API issued')
  return key
}

/**
 * What a tenant may know of a flag: nothing while it is internal-only (only staff learn of those),
 * else its fields with `tenants` cut down to this tenant (listed or not): the other tenants a flag
 * names are not this tenant's business.
 */
function tenantView (flag: FlagInput | null, tenantId: string): Partial<FlagInput> | null {
  if (flag === null || flag.internal_only) return null
  return { ...flag, tenants: flag.tenants.includes(tenantId) ? [tenantId] : [] }
}

/**
 * The entry a tenant's log gets for a flag change: the change as that tenant could see it, or
 * null when it saw none. A flag that turns internal-only says only that (not what it became); a
 * flag that stops being internal appears as it now is, like a new one.
 */
function tenantChanges (before: FlagInput | null, after: FlagInput, tenantId: string): FieldChanges | null {
  const seenBefore = tenantView(before, tenantId)
  const seenAfter = tenantView(after, tenantId)
  if (seenAfter === null) return seenBefore === null ? null : { internal_only: [false, true] }
  const changes = diff(seenBefore ?? {}, seenAfter)
  return Object.keys(changes).length === 0 ? null : changes
}

/**
 * Feature flag definitions. Flags are global, but audit_log is tenant-scoped, so a change is
 * audited in the log of each existing tenant the flag lists before or after the change, with only
 * what changed for that tenant (tenantChanges): no other tenant's id, and no trace at all of an
 * internal-only flag. A flag that lists no tenant leaves no tenant entry (the caller logs every
 * change in the application log). A change is published on the invalidation channel after
 * commit, so every instance reloads its flags.
 */
export class FlagsService {
  constructor (private readonly db: Database, private readonly invalidation: Invalidation) {}

  async loadAll (): Promise<FlagRecord[]> {
    const rows = await this.db.read('feature flags', null, sql => sql<FlagRecord[]>`
      select key, description, enabled, internal_only, tenants, percentage, updated_at
      from feature_flags order by key`)
    return [...rows]
  }

  async list (limit: number, cursor?: string): Promise<{ data: FlagRecord[], next_cursor: string | null }> {
    const after = cursor === undefined ? null : decodeKeyCursor(cursor)
    const rows = await this.db.read('feature flags page', null, sql => sql<FlagRecord[]>`
      select key, description, enabled, internal_only, tenants, percentage, updated_at
      from feature_flags
      ${after === null ? sql`` : sql`where key > ${after}`}
      order by key
      limit ${limit + 1}`)
    if (rows.length <= limit) return { data: [...rows], next_cursor: null }
    const data = rows.slice(0, limit)
    return { data, next_cursor: encodeKeyCursor(data[data.length - 1]!.key) }
  }

  /** Creates the flag or replaces it whole; an identical PUT changes nothing. */
  async put (key: string, input: FlagInput): Promise<FlagChange> {
    const wanted: FlagInput = { ...input, tenants: [...new Set(input.tenants.map(id => id.toLowerCase()))].sort() }
    const change = await this.db.transaction(null, async tx => {
      const [created] = await tx<FlagRecord[]>`
        insert into feature_flags (key, description, enabled, internal_only, tenants, percentage)
        values (${key}, ${wanted.description}, ${wanted.enabled}, ${wanted.internal_only}, ${wanted.tenants}::uuid[], ${wanted.percentage})
        on conflict (key) do nothing
        returning key, description, enabled, internal_only, tenants, percentage, updated_at`
      if (created !== undefined) {
        const changes = creationChanges(inputOf(created))
        const auditedTenants = await this.audit(tx, 'created', key, null, inputOf(created))
        return { flag: created, action: 'created' as const, changes, auditedTenants }
      }
      const [before] = await tx<FlagRecord[]>`
        select key, description, enabled, internal_only, tenants, percentage, updated_at
        from feature_flags where key = ${key} for update`
      const current = before as FlagRecord
      const changes = diff(inputOf(current), wanted)
      if (Object.keys(changes).length === 0) return { flag: current, action: null, changes, auditedTenants: [] }
      const [updated] = await tx<FlagRecord[]>`
        update feature_flags
        set description = ${wanted.description}, enabled = ${wanted.enabled}, internal_only = ${wanted.internal_only},
            tenants = ${wanted.tenants}::uuid[], percentage = ${wanted.percentage}, updated_at = now()
        where key = ${key}
        returning key, description, enabled, internal_only, tenants, percentage, updated_at`
      const auditedTenants = await this.audit(tx, 'updated', key, inputOf(current), inputOf(updated as FlagRecord))
      return { flag: updated as FlagRecord, action: 'updated' as const, changes, auditedTenants }
    })
    if (change.action !== null) await this.invalidation.publish('flags', key)
    return change
  }

  /** One entry per existing named tenant that saw a change, each written with that tenant set for row-level security. */
  private async audit (tx: TransactionSql, action: 'created' | 'updated', key: string, before: FlagInput | null, after: FlagInput): Promise<string[]> {
    const named = [...new Set([...(before?.tenants ?? []), ...after.tenants])]
    if (named.length === 0 || (after.internal_only && (before === null || before.internal_only))) return []
    const tenants = await tx<Array<{ id: string }>>`select id from tenants where id = any(${named}::uuid[]) order by id`
    const audited = tenants.flatMap(({ id }) => {
      const changes = tenantChanges(before, after, id)
      return changes === null ? [] : [{ id, changes }]
    })
    await forEachTenant(tx, audited, entry => entry.id, async ({ id, changes }) => {
      await recordAudit(tx, { tenantId: id, action, objectType: 'feature_flag', objectId: key, changes })
    })
    return audited.map(entry => entry.id)
  }
}
