import { tenantStatement, type TenantStatement } from '../../platform/db/database.ts'
import { ARTICLE_VIEW_SELECT, type ArticleRow } from './article-row.ts'
import type { ArticleFilters } from './service.ts'

/** One statement per combination of filters and cursor (16 at most), made the first time it is asked for. */
const statements = new Map<string, TenantStatement<ArticleRow[]>>()

/**
 * The article list's read for these filters: each combination is its own statement text, so its
 * own prepared statement and plan with only the predicates it needs (a plan shared by every
 * combination cannot use the keyset and filter indexes well), and its text is scoped once.
 *
 * Without a tag, every combination has one best plan whatever its values (the walk of the index
 * that leads with tenant, status or author, newest first), so its values are passed as values the
 * planner does not look into and the plan cache keeps its generic plan (database.ts, "Plans that
 * do not depend on their values"). A tag's best plan depends on the tag (a rare one through the
 * GIN index, a common one by walking the newest): those statements take plain parameters, and
 * PostgreSQL plans them per call when the tags make a difference.
 */
export function articleListRead (tenantId: string, filters: ArticleFilters, after: readonly [string, string] | null, limit: number):
{ statement: TenantStatement<ArticleRow[]>, parameters: Array<string | number> } {
  const parameters: Array<string | number> = []
  const planFitsEveryValue = filters.tag === undefined
  const value = (parameter: string | number, type: string): string => {
    parameters.push(parameter)
    return planFitsEveryValue ? `(select $${parameters.length}::${type})` : `$${parameters.length}::${type}`
  }
  let where = `a.tenant_id = ${value(tenantId, 'uuid')}`
  if (filters.status !== undefined) where += ` and a.status = ${value(filters.status, 'text')}`
  if (filters.tag !== undefined) where += ` and a.tags @> array[${value(filters.tag, 'text')}]`
  if (filters.author_id !== undefined) where += ` and a.author_id = ${value(filters.author_id, 'uuid')}`
  if (after !== null) where += ` and (a.created_at, a.id) < (${value(after[0], 'timestamptz')}, ${value(after[1], 'uuid')})`
  const text = `${where} order by a.created_at desc, a.id desc limit ${value(limit + 1, 'int')}`
  let statement = statements.get(text)
  if (statement === undefined) {
    statement = tenantStatement('article list', `${ARTICLE_VIEW_SELECT} where ${text}`)
    statements.set(text, statement)
  }
  return { statement, parameters }
}
