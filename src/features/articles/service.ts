import type { Static } from '@sinclair/typebox'
import { tenantStatement, type Database, type TransactionSql } from '../../platform/db/database.ts'
import { conflict, notFound, validationFailed } from '../../platform/errors.ts'
import { decodeCursor, page } from '../../platform/pagination.ts'
import type { ListQuery } from '../../schemas/common.ts'
import type { Article, ArticleListQuery, ArticlePatchBody, NewArticleBody } from './schemas.ts'
import { ARTICLE_VIEW_SELECT, selectArticleView, toArticle, type ArticleRow } from './article-row.ts'
import { assertMayModifyArticle } from './article-access.ts'
import { type Actor, assertCurrentRole } from '../tenancy/index.ts'
import { diff, recordAudit } from '../audit/index.ts'
import { enqueuePublication } from './scheduled-publishing.ts'
import { articleListRead } from './list-statements.ts'

/** the filters of `GET /v1/articles`: its query without the page parameters */
export type ArticleFilters = Omit<Static<typeof ArticleListQuery>, keyof Static<typeof ListQuery>>
export type NewArticle = Static<typeof NewArticleBody>
export type ArticlePatch = Static<typeof ArticlePatchBody>

const MAX_TAGS = 10

/** Duplicates merged, first occurrence kept; more than 10 distinct tags is a validation failure. */
function normalizeTags (tags: string[]): string[] {
  const unique = [...new Set(tags)]
  if (unique.length > MAX_TAGS) throw validationFailed('/tags', `must have at most ${MAX_TAGS} distinct tags`)
  return unique
}

const returningView = (tx: TransactionSql, tenantId: string, id: string) => tx<ArticleRow[]>`
  ${selectArticleView(tx)}
  where a.tenant_id = ${tenantId} and a.id = ${id}`

/** the hottest read of all: fixed text, scoped once (Database.readStatement) */
const ARTICLE_BY_ID = tenantStatement<ArticleRow[]>('article by id', `${ARTICLE_VIEW_SELECT} where a.tenant_id = $1 and a.id = $2`)

/**
 * Articles of one tenant. Reads are single statements that scope themselves (Database.read);
 * every change is one transaction with its audit entry, authorized from the actor's role as
 * re-read in that transaction (the request's role comes from a cache that may be stale).
 */
export class ArticlesService {
  constructor (private readonly db: Database) {}

  async get (tenantId: string, id: string): Promise<Article> {
    const [row] = await this.db.readStatement(ARTICLE_BY_ID, tenantId, [tenantId, id])
    if (row === undefined) throw notFound('no such article')
    return toArticle(row)
  }

  async list (tenantId: string, filters: ArticleFilters, limit: number, cursor?: string): Promise<{ data: Article[], next_cursor: string | null }> {
    const after = cursor === undefined ? null : decodeCursor(cursor)
    const { statement, parameters } = articleListRead(tenantId, filters, after, limit)
    const rows = await this.db.readStatement(statement, tenantId, parameters)
    const result = page(rows, limit, row => [row.created_at.toISOString(), row.id])
    return { data: result.data.map(toArticle), next_cursor: result.next_cursor }
  }

  async create (tenantId: string, actor: Actor, input: NewArticle): Promise<Article> {
    const tags = normalizeTags(input.tags ?? [])
    return this.db.transaction(tenantId, async tx => {
      await assertCurrentRole(tx, tenantId, actor.userId, 'articles:write')
      const [created] = await tx<Array<{ id: string }>>`
        insert into articles (tenant_id, author_id, title, body, tags)
        values (${tenantId}, ${actor.userId}, ${input.title}, ${input.body ?? ''}, ${tags})
        returning id`
      const id = (created as { id: string }).id
      await recordAudit(tx, {
        tenantId,
        action: 'created',
        objectType: 'article',
        objectId: id,
        changes: { title: [null, input.title], tags: [null, tags] }
      })
      const [row] = await returningView(tx, tenantId, id)
      return toArticle(row as ArticleRow)
    })
  }

  async update (tenantId: string, actor: Actor, id: string, patch: ArticlePatch): Promise<Article> {
    const changes: ArticlePatch = { ...patch }
    if (patch.tags !== undefined) changes.tags = normalizeTags(patch.tags)
    return this.db.transaction(tenantId, async tx => {
      const role = await assertCurrentRole(tx, tenantId, actor.userId, 'articles:write')
      const current = await this.lock(tx, tenantId, id)
      assertMayModifyArticle({ userId: actor.userId, role }, current.author_id)
      const fieldChanges = diff({ title: current.title, body: current.body, tags: current.tags }, changes)
      if (Object.keys(fieldChanges).length === 0) return toArticle(current)
      await tx`update articles set
          title = ${changes.title ?? current.title},
          body = ${changes.body ?? current.body},
          tags = ${changes.tags ?? current.tags},
          updated_at = now()
        where tenant_id = ${tenantId} and id = ${id}`
      if (fieldChanges.body !== undefined) fieldChanges.body = ['(previous body)', '(new body)']
      await recordAudit(tx, { tenantId, action: 'updated', objectType: 'article', objectId: id, changes: fieldChanges })
      const [row] = await returningView(tx, tenantId, id)
      return toArticle(row as ArticleRow)
    })
  }

  async remove (tenantId: string, actor: Actor, id: string): Promise<void> {
    await this.db.transaction(tenantId, async tx => {
      const role = await assertCurrentRole(tx, tenantId, actor.userId, 'articles:write')
      const current = await this.lock(tx, tenantId, id)
      assertMayModifyArticle({ userId: actor.userId, role }, current.author_id)
      await tx`delete from articles where tenant_id = ${tenantId} and id = ${id}`
      await recordAudit(tx, { tenantId, action: 'deleted', objectType: 'article', objectId: id, changes: { title: [current.title, null] } })
    })
  }

  /** Publishing a published article changes nothing and is no error. */
  async publish (tenantId: string, actor: Actor, id: string): Promise<Article> {
    return this.db.transaction(tenantId, async tx => {
      const role = await assertCurrentRole(tx, tenantId, actor.userId, 'articles:publish')
      const current = await this.lock(tx, tenantId, id)
      assertMayModifyArticle({ userId: actor.userId, role }, current.author_id)
      if (current.status === 'published') return toArticle(current)
      await tx`update articles set status = 'published', published_at = now(), publish_at = null, updated_at = now()
        where tenant_id = ${tenantId} and id = ${id}`
      await recordAudit(tx, { tenantId, action: 'published', objectType: 'article', objectId: id, changes: { status: [current.status, 'published'] } })
      const [row] = await returningView(tx, tenantId, id)
      return toArticle(row as ArticleRow)
    })
  }

  /** Schedules the article and, in the same transaction, the job that publishes it (replacing an earlier one). */
  async schedule (tenantId: string, actor: Actor, id: string, publishAt: Date): Promise<Article> {
    const now = Date.now()
    if (!(publishAt.getTime() > now)) throw validationFailed('/publish_at', 'must be in the future')
    return this.db.transaction(tenantId, async tx => {
      const role = await assertCurrentRole(tx, tenantId, actor.userId, 'articles:publish')
      const current = await this.lock(tx, tenantId, id)
      assertMayModifyArticle({ userId: actor.userId, role }, current.author_id)
      if (current.status === 'published') throw conflict('the article is already published')
      await tx`update articles set status = 'scheduled', publish_at = ${publishAt}, updated_at = now()
        where tenant_id = ${tenantId} and id = ${id}`
      await recordAudit(tx, {
        tenantId,
        action: 'scheduled',
        objectType: 'article',
        objectId: id,
        changes: { status: [current.status, 'scheduled'], publish_at: [current.publish_at, publishAt] }
      })
      await enqueuePublication(tx, { tenantId, articleId: id, publishAt, now })
      const [row] = await returningView(tx, tenantId, id)
      return toArticle(row as ArticleRow)
    })
  }

  /**
   * The publishing job's effect: publishes the article only while it is still scheduled for exactly
   * publishAt, so a stale (rescheduled), duplicate or late job after a manual publish changes
   * nothing. Returns whether it published. The audit entry has no actor (a job did it).
   */
  async publishScheduled (tenantId: string, id: string, publishAt: Date): Promise<boolean> {
    return this.db.transaction(tenantId, async tx => {
      const published = await tx`
        update articles set status = 'published', published_at = now(), publish_at = null, updated_at = now()
        where tenant_id = ${tenantId} and id = ${id} and status = 'scheduled' and publish_at = ${publishAt}
        returning id`
      if (published.length === 0) return false
      await recordAudit(tx, {
        tenantId,
        action: 'published',
        objectType: 'article',
        objectId: id,
        changes: { status: ['scheduled', 'published'] },
        actorId: null
      })
      return true
    })
  }

  /**
   * Re-enqueues the publishing job of an article still scheduled for publishAt (a job that ran long
   * before its time). The row lock orders this against a concurrent reschedule, whose job must win.
   */
  async postponePublication (tenantId: string, id: string, publishAt: Date): Promise<boolean> {
    const now = Date.now()
    return this.db.transaction(tenantId, async tx => {
      const [due] = await tx`
        select 1 from articles
        where tenant_id = ${tenantId} and id = ${id} and status = 'scheduled' and publish_at = ${publishAt}
        for update`
      if (due === undefined) return false
      await enqueuePublication(tx, { tenantId, articleId: id, publishAt, now })
      return true
    })
  }

  private async lock (tx: TransactionSql, tenantId: string, id: string): Promise<ArticleRow> {
    const [row] = await tx<ArticleRow[]>`
      ${selectArticleView(tx)}
      where a.tenant_id = ${tenantId} and a.id = ${id}
      for update of a`
    if (row === undefined) throw notFound('no such article')
    return row
  }
}
