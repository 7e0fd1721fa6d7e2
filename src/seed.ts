import { hashPassword } from './features/auth/index.ts'
import type { Database } from './platform/db/database.ts'
import { uuidv7 } from './platform/ids.ts'
import { roles as demoRoles, type Role } from './features/tenancy/index.ts'

export const DEMO_PASSWORD = 'atrium-demo-password'
const words = ['tenancy', 'latency', 'postgres', 'fastify', 'queues', 'tracing', 'caching', 'security', 'schemas', 'metrics']
const tagPool = ['news', 'howto', 'ops', 'db', 'api', 'release', 'security', 'perf', 'jobs', 'billing']
const BATCH = 500

export interface SeedOptions {
  /** tenant slugs: the first is `acme`, the demo tenant */
  tenants: string[]
  articlesPerTenant: number
  /** says what is happening; long seeds report their progress through it */
  progress?: (message: string) => void
}

export interface SeededTenant {
  id: string
  slug: string
  users: Array<{ id: string, email: string, role: Role }>
}

/** `owner@acme.example`, `admin@acme.example`, ...: one demo user per role and tenant. */
export const demoEmail = (role: Role, slug: string) => `${role}@${slug}.example`

/**
 * Demo data through the runtime role (row-level security applies, as for the app): per tenant one
 * user per role with DEMO_PASSWORD, and articles by the owner and the editor, in batches.
 * Idempotent for users and tenants (existing ones are reused); articles are added.
 */
export async function seed (db: Database, options: SeedOptions): Promise<SeededTenant[]> {
  const say = options.progress ?? (() => {})
  const passwordHash = await hashPassword(DEMO_PASSWORD)
  const seeded: SeededTenant[] = []
  for (const slug of options.tenants) {
    const tenant = await seedTenant(db, slug, passwordHash)
    seeded.push(tenant)
    say(`tenant ${slug}: users ${tenant.users.map(u => u.email).join(', ')}`)
    const authors = tenant.users.filter(u => u.role === 'owner' || u.role === 'editor').map(u => u.id)
    let written = 0
    while (written < options.articlesPerTenant) {
      const count = Math.min(BATCH, options.articlesPerTenant - written)
      await insertArticles(db, tenant.id, authors, written, count)
      written += count
      say(`tenant ${slug}: ${written}/${options.articlesPerTenant} articles`)
    }
  }
  return seeded
}

async function seedTenant (db: Database, slug: string, passwordHash: string): Promise<SeededTenant> {
  const [existing] = await db.read('seed tenant', null, sql => sql<Array<{ id: string }>>`select id from tenants where slug = ${slug}`)
  const tenantId = existing?.id ?? uuidv7()
  return db.transaction(tenantId, async tx => {
    await tx`insert into tenants (id, slug, name) values (${tenantId}, ${slug}, ${`${slug[0]?.toUpperCase() ?? ''}${slug.slice(1)} Inc.`})
      on conflict (id) do nothing`
    const users: SeededTenant['users'] = []
    for (const role of demoRoles) {
      const email = demoEmail(role, slug)
      const [user] = await tx<Array<{ id: string }>>`
        with found as (select id from users where lower(email) = ${email} and deleted_at is null),
        inserted as (
          insert into users (email, name, password_hash)
          select ${email}, ${`${role[0]?.toUpperCase() ?? ''}${role.slice(1)} of ${slug}`}, ${passwordHash}
          where not exists (select 1 from found)
          returning id)
        select id from found union all select id from inserted`
      const userId = (user as { id: string }).id
      await tx`insert into memberships (tenant_id, user_id, role) values (${tenantId}, ${userId}, ${role})
        on conflict (tenant_id, user_id) do nothing`
      users.push({ id: userId, email, role })
    }
    return { id: tenantId, slug, users }
  })
}

/** Bodies of 300 to 4,000 characters, spread evenly: what a real tenant's articles weigh. */
const MIN_BODY = 300
const BODY_SPREAD = 3_700

function bodyOf (n: number): string {
  const length = MIN_BODY + (n * 7_919) % BODY_SPREAD
  const sentences: string[] = [`Article ${n + 1} of the demo data.`]
  for (let i = 0; sentences.join(' ').length < length; i++) {
    sentences.push(`What we learned about ${words[(n + i * 3) % words.length]} and ${words[(n * 7 + i) % words.length]}, step ${i + 1}.`)
  }
  return sentences.join(' ').slice(0, length)
}

async function insertArticles (db: Database, tenantId: string, authors: string[], offset: number, count: number): Promise<void> {
  const rows = Array.from({ length: count }, (_, i) => {
    const n = offset + i
    // three distinct tags (offsets 0, 3 and 7 of ten): each tag is on 3 articles in 10
    const tags = [tagPool[n % tagPool.length], tagPool[(n + 3) % tagPool.length], tagPool[(n + 7) % tagPool.length]]
    return {
      author: authors[n % authors.length] as string,
      title: `Notes on ${words[n % words.length]} #${n + 1}`,
      body: bodyOf(n),
      status: n % 3 === 0 ? 'published' : 'draft',
      tags: `{${tags.join(',')}}`
    }
  })
  await db.transaction(tenantId, tx => tx`
    insert into articles (tenant_id, author_id, title, body, status, tags, published_at)
    select ${tenantId}, a.author, a.title, a.body, a.status, a.tags::text[], case when a.status = 'published' then now() end
    from unnest(${rows.map(r => r.author)}::uuid[], ${rows.map(r => r.title)}::text[], ${rows.map(r => r.body)}::text[],
                ${rows.map(r => r.status)}::text[], ${rows.map(r => r.tags)}::text[]) as a(author, title, body, status, tags)`)
}
