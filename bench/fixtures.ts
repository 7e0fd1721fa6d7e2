import { AccessTokens } from '../src/features/auth/tokens.ts'
import { createSql } from '../src/platform/db/client.ts'
import { Database } from '../src/platform/db/database.ts'
import { createLogger } from '../src/platform/logger.ts'
import { encodeCursor } from '../src/platform/pagination.ts'
import type { Role } from '../src/features/tenancy/permissions.ts'
import { demoEmail, seed } from '../src/seed.ts'
import { BENCH_FLAG } from './servers/probes.ts'
import { BenchError } from './settings.ts'
import type { BenchContext } from './types.ts'

export const TENANT_COUNT = 10
export const ARTICLES_PER_TENANT = 1_000
/** the large tenants: this many articles, where a list's plan and a deep page cost most */
export const LARGE_TENANTS = 2
export const ARTICLES_PER_LARGE_TENANT = 10_000
/** seed() makes owner, admin, editor and viewer; these make 10 members a tenant, 100 users in all */
const EXTRA_ROLES: Role[] = ['editor', 'editor', 'viewer', 'viewer', 'viewer', 'viewer']
const TOKEN_TTL_S = 900

export interface BenchUser {
  id: string
  tenantId: string
  role: Role
}

export interface BenchTenant {
  id: string
  slug: string
  users: BenchUser[]
  /** every article of the tenant after seeding */
  articleIds: string[]
  /** the cursor of page 5 of the tenant's list of 20 (after its 80 newest articles) */
  page5Cursor: string
}

export interface Fixtures {
  tenants: BenchTenant[]
  /** every member of every bench tenant: the pool requests draw their tokens from */
  users: BenchUser[]
}

/** A user with an access token bound (`tid`) to their tenant. */
export interface SignedUser extends BenchUser {
  authorization: string
}

/** page 5 of 20 starts after the 80 newest */
const PAGE_5_OFFSET = 80

function cursorAfter (row: { id: string, created_at: Date } | undefined, slug: string): string {
  if (row === undefined) throw new BenchError(`tenant ${slug} has fewer than ${PAGE_5_OFFSET} articles: no page 5`)
  return encodeCursor([row.created_at.toISOString(), row.id])
}

const slugs = (): string[] => ['acme', ...Array.from({ length: TENANT_COUNT - 1 }, (_, i) => `tenant-${i + 2}`)]

let seeding: Promise<Fixtures> | undefined
let seeded: Fixtures | undefined

/** The seeded data; only after a scenario's setup has called prepareFixtures. */
export function fixtures (): Fixtures {
  if (seeded === undefined) throw new BenchError('bench fixtures used before setup seeded them (a scenario needs `setup: prepareFixtures`)')
  return seeded
}

/**
 * Seeds the bench database once, whichever scenarios ask: 10 tenants of 1,000 articles through
 * src/seed.ts (runtime role, row-level security applies; bodies of 300 to 4,000 characters, 3 tags),
 * the first two grown to 10,000, 6 more members per tenant, the bench flag; then reads back, as
 * owner, the members and article ids that requests are made of.
 */
export async function prepareFixtures (context: BenchContext, log: (message: string) => void): Promise<void> {
  seeding ??= seedFixtures(context, log)
  seeded = await seeding
}

async function seedFixtures (context: BenchContext, log: (message: string) => void): Promise<Fixtures> {
  const runtime = createSql(context.runtimeUrl, { max: 2, applicationName: 'atrium-bench-seed' })
  const owner = createSql(context.ownerUrl, { max: 2, applicationName: 'atrium-bench-seed' })
  try {
    const db = new Database(runtime, { log: createLogger({ LOG_LEVEL: 'warn' }), slowQueryMs: 60_000, lockTimeoutMs: 10_000, defaultBudgetMs: 120_000 })
    const started = Date.now()
    const tenants = await seed(db, { tenants: slugs(), articlesPerTenant: ARTICLES_PER_TENANT, progress: m => log(`seed: ${m}`) })
    await seed(db, {
      tenants: slugs().slice(0, LARGE_TENANTS),
      articlesPerTenant: ARTICLES_PER_LARGE_TENANT - ARTICLES_PER_TENANT,
      progress: m => log(`seed (large tenants): ${m}`)
    })

    for (const tenant of tenants) {
      const [ownerRow] = await owner<Array<{ password_hash: string }>>`select password_hash from users where lower(email) = ${demoEmail('owner', tenant.slug)}`
      const extras = EXTRA_ROLES.map((role, i) => ({
        email: `${role}-${i + 1}@${tenant.slug}.example`,
        name: `Bench ${role} ${i + 1} of ${tenant.slug}`,
        password_hash: ownerRow?.password_hash ?? 'not-a-hash'
      }))
      const users = await owner<Array<{ id: string, email: string }>>`insert into users ${owner(extras)} returning id, email`
      const memberships = users.map((user, i) => ({ tenant_id: tenant.id, user_id: user.id, role: EXTRA_ROLES[i] as Role }))
      await owner`insert into memberships ${owner(memberships)}`
    }
    await owner`insert into feature_flags (key, description, enabled, percentage)
      values (${BENCH_FLAG}, 'bench: on for every tenant', true, 100)
      on conflict (key) do update set enabled = true, internal_only = false, percentage = 100`

    const tenantIds = tenants.map(t => t.id)
    const members = await owner<Array<{ tenant_id: string, user_id: string, role: Role }>>`
      select tenant_id, user_id, role from memberships where tenant_id = any(${tenantIds}::uuid[]) order by tenant_id, user_id`
    const articles = await owner<Array<{ tenant_id: string, id: string }>>`
      select tenant_id, id from articles where tenant_id = any(${tenantIds}::uuid[])`
    const page5 = await owner<Array<{ tenant_id: string, id: string, created_at: Date }>>`
      select t.id as tenant_id, last.id, last.created_at from unnest(${tenantIds}::uuid[]) as t(id)
      cross join lateral (select a.id, a.created_at from articles a where a.tenant_id = t.id
        order by a.created_at desc, a.id desc offset ${PAGE_5_OFFSET - 1} limit 1) last`
    // done now, so that neither autovacuum (which visits freshly inserted tables too) nor the
    // checkpoint after the seeding lands inside a measured run
    await owner`vacuum (analyze)`
    await owner`checkpoint`

    const result: BenchTenant[] = tenants.map(t => ({
      id: t.id,
      slug: t.slug,
      users: members.filter(m => m.tenant_id === t.id).map(m => ({ id: m.user_id, tenantId: t.id, role: m.role })),
      articleIds: articles.filter(a => a.tenant_id === t.id).map(a => a.id),
      page5Cursor: cursorAfter(page5.find(row => row.tenant_id === t.id), t.slug)
    }))
    for (const tenant of result) {
      if (tenant.articleIds.length === 0 || tenant.users.length === 0) throw new BenchError(`seeding left tenant ${tenant.slug} without articles or members`)
    }
    const users = result.flatMap(t => t.users)
    log(`seed: ${result.length} tenants, ${users.length} members, ${articles.length} articles, flag ${BENCH_FLAG} in ${Math.round((Date.now() - started) / 1000)} s`)
    return { tenants: result, users }
  } finally {
    await Promise.all([runtime.end({ timeout: 5 }), owner.end({ timeout: 5 })])
  }
}

/** tokens live 15 minutes, as the app's; re-signed once 5 minutes old, so a run of up to 10 minutes never sees one expire */
const TOKEN_REUSE_MS = 300_000
let signed: { secret: string, at: number, users: SignedUser[] } | undefined

/**
 * Every bench user with an access token bound (`tid`) to their tenant, signed with the bench's JWT
 * secret by the app's own AccessTokens. The same tokens serve a run's warm-up and measurement.
 */
export function signedUsers (context: BenchContext): SignedUser[] {
  const now = Date.now()
  if (signed === undefined || signed.secret !== context.secrets.jwt || now - signed.at > TOKEN_REUSE_MS) {
    const tokens = new AccessTokens({ secrets: [context.secrets.jwt], ttlSeconds: TOKEN_TTL_S })
    const users = fixtures().users.map(user => ({ ...user, authorization: `Bearer ${tokens.issue(user.id, user.tenantId).token}` }))
    signed = { secret: context.secrets.jwt, at: now, users }
  }
  return signed.users
}

export function tenantOf (user: BenchUser): BenchTenant {
  const tenant = fixtures().tenants.find(t => t.id === user.tenantId)
  if (tenant === undefined) throw new BenchError(`bench user ${user.id} has no bench tenant`)
  return tenant
}
