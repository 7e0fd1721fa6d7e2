import { withSql } from '../../test/helpers/sql.ts'
import type { Outcome } from './load.ts'

export interface WrittenArticles {
  /** title → id of every article whose POST was answered 201 */
  acknowledged: ReadonlyMap<string, string>
  /** titles of the POSTs that were answered with an error or not at all */
  errored: ReadonlySet<string>
  /** every title the test sent */
  sent: ReadonlySet<string>
}

export interface ArticleCheck {
  /** article rows plus article audit rows read */
  rowsChecked: number
  /** acknowledged titles missing, or present under another id */
  lost: string[]
  /** titles stored more than once */
  duplicates: string[]
  /** articles without exactly one "created" audit entry, plus such entries without their article */
  halfWritten: number
  /** stored titles the test never sent */
  unknown: string[]
  /** articles whose POST got an error but whose transaction committed (whole) all the same */
  committedDespiteError: number
  /** all article rows of the tenant */
  stored: number
}

/**
 * What a load of article writes (kind `write`, key the title) was told: the id of every write
 * answered 201 is added to `acknowledged` (title → id); returned are the titles of the others.
 */
export function recordWrites (outcomes: readonly Outcome[], acknowledged: Map<string, string>): Set<string> {
  for (const o of outcomes) {
    if (o.kind === 'write' && o.status === 201) acknowledged.set(o.key!, (o.body as { article: { id: string } }).article.id)
  }
  return new Set(outcomes.filter(o => o.kind === 'write' && o.status !== 201).map(o => o.key!))
}

/**
 * Reads a tenant's articles and their audit entries as the owner (no row-level security in the
 * way) and compares them with what the clients were told.
 */
export async function checkArticles (ownerUrl: string, tenantId: string, written: WrittenArticles): Promise<ArticleCheck> {
  const { articles, orphanAudits, auditRows } = await withSql(ownerUrl, async sql => {
    const articles = await sql<Array<{ id: string, title: string, audits: number }>>`
      select a.id, a.title, (select count(*)::int from audit_log l
        where l.tenant_id = a.tenant_id and l.object_type = 'article' and l.action = 'created' and l.object_id = a.id::text) as audits
      from articles a where a.tenant_id = ${tenantId}`
    const [orphans] = await sql<Array<{ n: number }>>`
      select count(*)::int as n from audit_log l
      where l.tenant_id = ${tenantId} and l.object_type = 'article' and l.action = 'created'
        and not exists (select 1 from articles a where a.tenant_id = l.tenant_id and a.id::text = l.object_id)`
    const [audits] = await sql<Array<{ n: number }>>`
      select count(*)::int as n from audit_log where tenant_id = ${tenantId} and object_type = 'article'`
    return { articles, orphanAudits: orphans?.n ?? Number.NaN, auditRows: audits?.n ?? Number.NaN }
  })
  const byTitle = new Map<string, string[]>()
  for (const row of articles) byTitle.set(row.title, [...(byTitle.get(row.title) ?? []), row.id])
  return {
    rowsChecked: articles.length + auditRows,
    lost: [...written.acknowledged].filter(([title, id]) => byTitle.get(title)?.length !== 1 || byTitle.get(title)?.[0] !== id).map(([title]) => title),
    duplicates: [...byTitle].filter(([, ids]) => ids.length > 1).map(([title]) => title),
    halfWritten: articles.filter(row => row.audits !== 1).length + orphanAudits,
    unknown: articles.filter(row => !written.sent.has(row.title)).map(row => row.title),
    committedDespiteError: articles.filter(row => written.errored.has(row.title)).length,
    stored: articles.length
  }
}
