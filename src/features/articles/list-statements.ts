import { tenantStatement, type TenantStatement } from '../../platform/db/database.ts'
import { ARTICLE_VIEW_SELECT, type ArticleRow } from './article-row.ts'
import type { ArticleFilters } from './service.ts'

/** One statement per combination of filters and cursor (16 at most), made the first time it is asked for. */
const statements = new Map<string, TenantStatement<ArticleRow[]>>()

/**
 * The article list's read for these filters: each combination is its own statement text, so its
 * own prepared statement and plan with only the predicates it needs (a plan shared by every
 * combination cannot use the keyset and filter indexes well), and its text is scoped once.
 */
export function articleListRead (tenantId: string, filters: ArticleFilters, after: readonly [string, string] | null, limit: number):
{ statement: TenantStatement<ArticleRow[]>, parameters: Array<string | number> } {
  const parameters: Array<string | number> = [tenantId]
  let where = 'a.tenant_id = $1'
  if (filters.status !== undefined) {
    parameters.push(filters.status)
    where += ` and a.status = $${parameters.length}`
  }
  if (filters.tag !== undefined) {
    parameters.push(filters.tag)
    where += ` and a.tags @> array[$${parameters.length}::text]`
  }
  if (filters.author_id !== undefined) {
    parameters.push(filters.author_id)
    where += ` and a.author_id = $${parameters.length}`
  }
  if (after !== null) {
    parameters.push(after[0], after[1])
    where += ` and (a.created_at, a.id) < ($${parameters.length - 1}::timestamptz, $${parameters.length}::uuid)`
  }
  parameters.push(limit + 1)
  let statement = statements.get(where)
  if (statement === undefined) {
    statement = tenantStatement('article list', `${ARTICLE_VIEW_SELECT} where ${where} order by a.created_at desc, a.id desc limit $${parameters.length}`)
    statements.set(where, statement)
  }
  return { statement, parameters }
}
