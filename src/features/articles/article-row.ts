import type { Article, ArticleStatus } from './schemas.ts'

/**
 * A row of the article_view type (see migrations/0005_articles.sql), and the API's article made
 * from it. Its own module so the bench's bare baseline (bench/servers/bare.ts) maps rows with the
 * same code without loading the service and what it imports.
 */
export interface ArticleRow {
  id: string
  title: string
  body: string
  status: ArticleStatus
  tags: string[]
  author_id: string
  author_name: string
  publish_at: Date | null
  published_at: Date | null
  created_at: Date
  updated_at: Date
}

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
