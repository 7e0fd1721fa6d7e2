import { createHash } from 'node:crypto'
import type { Loaded } from '../../schemas/common.ts'
import type { Flag } from './schemas.ts'

/** A flag as stored (see migrations/0004_flags.sql): the Flag schema without its updated_at. */
export type FlagDefinition = Omit<Loaded<typeof Flag>, 'updated_at'>

/** Who asks: the request's tenant (none outside tenant routes) and whether the user is staff. */
export interface FlagCaller {
  tenantId?: string | undefined
  isStaff: boolean
}

/**
 * The tenant's bucket for a flag, 0..99: the first 4 bytes of sha256("<key>:<tenant id>") as an
 * unsigned big-endian integer, mod 100. Depends on nothing but its inputs, so every process and
 * machine puts a tenant in the same bucket, and a flag's rollout grows by adding buckets: a tenant
 * on at 10% stays on at 20%. Hashing the key in makes each flag pick a different set of tenants.
 */
export function bucketOf (key: string, tenantId: string): number {
  return createHash('sha256').update(`${key}:${tenantId}`).digest().readUInt32BE(0) % 100
}

const MAX_BUCKETS_PER_FLAG = 10_000

/**
 * Remembered buckets, per flag key then tenant id. Outlives reloads (a bucket never changes for a
 * key and tenant), so the steady state hashes nothing; each flag's map is emptied when it fills.
 */
export class BucketCache {
  private readonly byFlag = new Map<string, Map<string, number>>()

  forFlag (key: string): Map<string, number> {
    let buckets = this.byFlag.get(key)
    if (buckets === undefined) {
      buckets = new Map()
      this.byFlag.set(key, buckets)
    }
    return buckets
  }
}

/** One flag prepared for evaluation: its tenants in a Set, its bucket memo at hand. */
export class CompiledFlag {
  readonly key: string
  readonly enabled: boolean
  readonly internalOnly: boolean
  readonly percentage: number
  private readonly tenants: ReadonlySet<string>

  constructor (definition: FlagDefinition, private readonly buckets: Map<string, number>) {
    this.key = definition.key
    this.enabled = definition.enabled
    this.internalOnly = definition.internal_only
    this.percentage = definition.percentage
    this.tenants = new Set(definition.tenants)
  }

  /** API.md: on when enabled and the caller is staff, or (not internal_only) the tenant is listed or falls under the percentage. */
  isOn (caller: FlagCaller): boolean {
    if (!this.enabled) return false
    if (caller.isStaff) return true
    const tenantId = caller.tenantId
    if (this.internalOnly || tenantId === undefined) return false
    if (this.tenants.has(tenantId)) return true
    if (this.percentage <= 0) return false
    if (this.percentage >= 100) return true
    return this.bucket(tenantId) < this.percentage
  }

  /** internal_only flags exist only for staff: others never learn their names. */
  isVisibleTo (caller: FlagCaller): boolean {
    return !this.internalOnly || caller.isStaff
  }

  private bucket (tenantId: string): number {
    let bucket = this.buckets.get(tenantId)
    if (bucket === undefined) {
      if (this.buckets.size >= MAX_BUCKETS_PER_FLAG) this.buckets.clear()
      bucket = bucketOf(this.key, tenantId)
      this.buckets.set(tenantId, bucket)
    }
    return bucket
  }
}

/** An immutable set of compiled flags: what one reload produced. A key not defined is off. */
export class FlagSnapshot {
  private readonly flags: ReadonlyMap<string, CompiledFlag>

  constructor (definitions: readonly FlagDefinition[], buckets: BucketCache) {
    const sorted = [...definitions].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    this.flags = new Map(sorted.map(definition => [definition.key, new CompiledFlag(definition, buckets.forFlag(definition.key))]))
  }

  isEnabled (key: string, caller: FlagCaller): boolean {
    return this.flags.get(key)?.isOn(caller) ?? false
  }

  /** Every flag the caller may know of, by key in key order, with its value for the caller. */
  all (caller: FlagCaller): Record<string, boolean> {
    const result: Record<string, boolean> = {}
    for (const flag of this.flags.values()) {
      if (flag.isVisibleTo(caller)) result[flag.key] = flag.isOn(caller)
    }
    return result
  }

  get size (): number {
    return this.flags.size
  }
}
