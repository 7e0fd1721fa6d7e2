import type { TransactionSql } from '../../platform/db/database.ts'
import { enqueue } from '../../platform/jobs/outbox.ts'
import { PUBLISH_ARTICLE_JOB, type PublishArticlePayload } from './job-names.ts'

/**
 * BullMQ keeps delays far beyond this, but the outbox takes at most ~24.8 days: a later publication
 * is reached in hops, each job re-enqueuing the next until the time is near.
 */
export const MAX_HOP_MS = 7 * 86_400_000

/** One job key per article: scheduling again replaces the job that has not started yet. */
export const publicationJobId = (articleId: string): string => `publish-${articleId}`

export interface Publication {
  tenantId: string
  articleId: string
  publishAt: Date
  /** epoch ms taken before the enqueuing transaction began: the delay counts from then */
  now: number
}

/** Enqueues (in the caller's transaction) the job that publishes the article at publishAt. */
export async function enqueuePublication (tx: TransactionSql, publication: Publication): Promise<void> {
  const payload: PublishArticlePayload = {
    articleId: publication.articleId,
    tenantId: publication.tenantId,
    publishAt: publication.publishAt.toISOString()
  }
  await enqueue(tx, {
    queue: 'publishing',
    name: PUBLISH_ARTICLE_JOB,
    payload,
    delayMs: Math.min(MAX_HOP_MS, Math.max(0, Math.ceil(publication.publishAt.getTime() - publication.now))),
    jobId: publicationJobId(publication.articleId),
    tenantId: publication.tenantId
  })
}
