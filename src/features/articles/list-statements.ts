import { tenantStatement, type TenantStatement } from '../../platform/db/database.ts'
import { ARTICLE_VIEW_SELECT, type ArticleRow } from './article-row.ts'
import type { ArticleFilters } from './service.ts'

// which filters a list has, and a cursor: one bit each, 16 combinations
const STATUS = 1
const TAG = 2
const AUTHOR = 4
const CURSOR = 8

/** One statement per combination, made the first time it is asked for. */
const statements: Array<TenantStatement<ArticleRow[]> | undefined> = []

/**
 * The article list's read for these filters: each combination is its own statement text, so its
 * own prepared statement and plan with only the predicates it needs (a plan shared by every
 * combination cannot use the keyset and filter indexes well), and its text is scoped once. Per
 * call, only the parameters are gathered, in the order the text numbers them.
 */
export function articleListRead (tenantId: string, filters: ArticleFilters, after: readonly [string, string] | null, limit: number):
{ statement: TenantStatement<ArticleRow[]>, parameters: Array<string | number> } {
  const parameters: Array<string | number> = [tenantId]
  let combination = 0
  if (filters.status !== undefined) { parameters.push(filters.status); combination |= STATUS }
  if (filters.tag !== undefined) { parameters.push(filters.tag); combination |= TAG }
  if (filters.author_id !== undefined) { parameters.push(filters.author_id); combination |= AUTHOR }
  if (after !== null) { parameters.push(after[0], after[1]); combination |= CURSOR }
  parameters.push(limit + 1)
  const statement = statements[combination] ?? (statements[combination] = listStatement(combination))
  return { statement, parameters }
}

/**
 * The text of one combination. Without a tag, its plan is the same for every value (the walk of
 * the index that leads with tenant, status or author, newest first), so its values are passed as
 * values the planner does not look into and the plan cache keeps its generic plan (database.ts,
 * "Plans that do not depend on their values"). A tag's best plan depends on the tag (a rare one
 * through the GIN index, a common one by walking the newest): those statements take plain
 * parameters, and PostgreSQL plans them per call when the tags make a difference.
 */
function listStatement (combination: number): TenantStatement<ArticleRow[]> {
  const planFitsEveryValue = (combination & TAG) === 0
  let count = 0
  const value = (type: string): string => {
    count++
    return planFitsEveryValue ? `(select $${count}::${type})` : `$${count}::${type}`
  }
  let where = `a.tenant_id = ${value('uuid')}`
  if ((combination & STATUS) !== 0) where += ` and a.status = ${value('text')}`
  if ((combination & TAG) !== 0) where += ` and a.tags @> array[${value('text')}]`
  if ((combination & AUTHOR) !== 0) where += ` and a.author_id = ${value('uuid')}`
  if ((combination & CURSOR) !== 0) where += ` and (a.created_at, a.id) < (${value('timestamptz')}, ${value('uuid')})`
  return tenantStatement('article list', `${ARTICLE_VIEW_SELECT} where ${where} order by a.created_at desc, a.id desc limit ${value('int')}`)
}
