import type { TransactionSql } from '../../platform/db/database.ts'
import type { Role } from '../tenancy/index.ts'
import type { ArticleStatus } from '../articles/index.ts'
import type { ExportDocument } from './schemas.ts'
import type { FieldChanges } from '../audit/index.ts'

interface ProfileRow {
  id: string
  email: string
  name: string
  is_staff: boolean
  last_seen_at: Date | null
  created_at: Date
  updated_at: Date
}

interface MembershipRow { tenant_id: string, slug: string, name: string, role: Role, created_at: Date }

interface ArticleRow {
  tenant_id: string
  tenant_slug: string
  tenant_name: string
  id: string
  title: string
  body: string
  status: ArticleStatus
  tags: string[]
  publish_at: Date | null
  published_at: Date | null
  created_at: Date
  updated_at: Date
}

interface AuditRow {
  tenant_id: string
  tenant_slug: string
  id: string
  action: string
  object_type: string
  object_id: string
  changes: FieldChanges
  request_id: string | null
  created_at: Date
}

const iso = (date: Date): string => date.toISOString()
const isoOrNull = (date: Date | null): string | null => date === null ? null : date.toISOString()

/**
 * Everything stored about one user, and nothing about anyone else: its profile, its memberships,
 * the articles it authored and the audit entries where it is the actor, in every tenant it still
 * belongs to (what it did in a tenant it left is that tenant's). The cross-tenant reads go through
 * the SECURITY DEFINER functions of migrations 0002 and 0012, each limited to this user's rows.
 * Null when the user is gone (anonymized).
 */
export async function gatherExportDocument (tx: TransactionSql, userId: string, exportId: string): Promise<ExportDocument | null> {
  const [profile] = await tx<ProfileRow[]>`
    select id, email, name, is_staff, last_seen_at, created_at, updated_at
    from users where id = ${userId} and deleted_at is null`
  if (profile === undefined) return null
  const memberships = await tx<MembershipRow[]>`select tenant_id, slug, name, role, created_at from user_memberships(${userId})`
  const articles = await tx<ArticleRow[]>`
    select tenant_id, tenant_slug, tenant_name, id, title, body, status, tags, publish_at, published_at, created_at, updated_at
    from user_authored_articles(${userId})`
  const audit = await tx<AuditRow[]>`
    select tenant_id, tenant_slug, id, action, object_type, object_id, changes, request_id, created_at
    from user_audit_entries(${userId})`

  return {
    format: 'atrium-export/1',
    export_id: exportId,
    generated_at: new Date().toISOString(),
    user: {
      id: profile.id,
      email: profile.email,
      name: profile.name,
      is_staff: profile.is_staff,
      last_seen_at: isoOrNull(profile.last_seen_at),
      created_at: iso(profile.created_at),
      updated_at: iso(profile.updated_at)
    },
    memberships: memberships.map(m => ({
      tenant: { id: m.tenant_id, slug: m.slug, name: m.name },
      role: m.role,
      created_at: iso(m.created_at)
    })),
    articles: articles.map(a => ({
      tenant: { id: a.tenant_id, slug: a.tenant_slug, name: a.tenant_name },
      id: a.id,
      title: a.title,
      body: a.body,
      status: a.status,
      tags: a.tags,
      publish_at: isoOrNull(a.publish_at),
      published_at: isoOrNull(a.published_at),
      created_at: iso(a.created_at),
      updated_at: iso(a.updated_at)
    })),
    audit_entries: audit.map(e => ({
      tenant: { id: e.tenant_id, slug: e.tenant_slug },
      id: e.id,
      action: e.action,
      object_type: e.object_type,
      object_id: e.object_id,
      changes: e.changes,
      request_id: e.request_id,
      created_at: iso(e.created_at)
    }))
  }
}
