import type { Sql } from '../../platform/db/database.ts'
import type { Loaded } from '../../schemas/common.ts'
import type { Article } from './schemas.ts'

/**
 * An article row with its author's name, the select that reads one, and the API's article made
 * from it. Its own module so the bench's bare baseline (bench/servers/bare.ts) reads and maps rows
 * with the same code without loading the service and what it imports.
 */
export interface ArticleRow extends Omit<Loaded<typeof Article>, 'author'> {
  author_id: string
  author_name: string
}

/**
 * The columns of an article `a` with its author `u`: the start of every ArticleRow read (the
 * service's reads and writes, the bench's bare baseline and its pgbench scripts); the caller adds
 * the where clause.
 */
export const ARTICLE_VIEW_SELECT =
  'select a.id, a.title, a.body, a.status, a.tags, a.author_id, u.name as author_name, ' +
  'a.publish_at, a.published_at, a.created_at, a.updated_at ' +
  'from articles a join users u on u.id = a.author_id'

/** ARTICLE_VIEW_SELECT as a fragment of a postgres.js query (a constant: nothing to escape) */
export const selectArticleView = (sql: Pick<Sql, 'unsafe'>) => sql.unsafe(ARTICLE_VIEW_SELECT)

export const toArticle = (row: ArticleRow): Article => ({
  id: row.id,
  title: row.title,
  body: row.body,
  status: row.status,
  tags: row.tags,
  author: { id: row.author_id, name: row.author_name },
  publish_at: row.publish_at,
  published_at: row.published_at,
  created_at: row.created_at,
  updated_at: row.updated_at
})
