import { hash } from 'node:crypto'
import type { Article } from './schemas.ts'

/**
 * Weak validators of the article reads (API.md Conventions, Revalidation), made from what the
 * response already holds, never from its serialized body. `updated_at` moves on every change of an
 * article (edit, publish, schedule), at millisecond precision. What the tags do not see: the
 * author's display name, which an article carries but does not own. REPRESENTATION names the
 * response shape: change it when the article's JSON changes, so tags issued before do not match.
 */
const REPRESENTATION = 'a1'

type Dated = Pick<Article, 'id' | 'updated_at'>

const instant = (time: Date | string): string => typeof time === 'string' ? time : time.getTime().toString(36)

/** one article: its id and last change, `W/"a1.<id>.<updated_at>"` */
export const articleTag = (article: Dated): string => `W/"${REPRESENTATION}.${article.id}.${instant(article.updated_at)}"`

/**
 * a list page: the ids and last changes of its rows, in order, and its next cursor, digested
 * (a page of 100 rows would make a 5 KB header otherwise)
 */
export function articlePageTag (page: { data: readonly Dated[], next_cursor: string | null }): string {
  let key = page.next_cursor ?? ''
  for (const article of page.data) key += `,${article.id}.${instant(article.updated_at)}`
  return `W/"${REPRESENTATION}.${hash('sha1', key, 'base64url')}"`
}
