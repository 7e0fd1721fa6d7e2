import type autocannon from 'autocannon'
import { articleTag } from '../src/features/articles/index.ts'
import { createSql } from '../src/platform/db/client.ts'
import { fixtures, prepareFixtures, signedUsers, tenantOf } from './fixtures.ts'
import type { BenchContext } from './types.ts'

/**
 * GET /v1/articles/:id revalidated (README, API, Revalidation): the same random (member, article)
 * draws as the plain article read, each sent with If-None-Match of the article's current ETag, so
 * every answer is a 304. The tags are made with the app's own articleTag from the seeded rows.
 */

const DRAWS = 2_000
let tags: Map<string, string> | undefined

/** the seeding, then the current ETag of every seeded article (read as owner) */
export async function prepareArticleTags (context: BenchContext, log: (message: string) => void): Promise<void> {
  await prepareFixtures(context, log)
  const owner = createSql(context.ownerUrl, { max: 1, applicationName: 'atrium-bench-tags' })
  try {
    const ids = fixtures().tenants.flatMap(tenant => tenant.articleIds)
    const rows = await owner<Array<{ id: string, updated_at: Date }>>`select id, updated_at from articles where id = any(${ids}::uuid[])`
    tags = new Map(rows.map(row => [row.id, articleTag(row)]))
    log(`current ETags of ${tags.size} articles`)
  } finally {
    await owner.end()
  }
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T

/** GET /v1/articles/:id with a matching If-None-Match: a random member, a random article of its tenant */
export function revalidatedArticleByIdAsMembers (context: BenchContext): autocannon.Request[] {
  const users = signedUsers(context)
  return Array.from({ length: DRAWS }, () => {
    const user = pick(users)
    const id = pick(tenantOf(user).articleIds)
    const etag = tags?.get(id)
    if (etag === undefined) throw new Error(`no ETag for article ${id}: prepareArticleTags did not run`)
    return { method: 'GET', path: `/v1/articles/${id}`, headers: { authorization: user.authorization, 'if-none-match': etag } }
  })
}
