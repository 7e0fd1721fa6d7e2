import { setTimeout as sleep } from 'node:timers/promises'
import { ArticlesService } from './service.ts'
import type { JobRegistry, JobType } from '../../platform/jobs/registry.ts'
import { PUBLISH_ARTICLE_JOB, type PublishArticlePayload } from './job-names.ts'

/**
 * A job a little early (clocks of the app, PostgreSQL and Redis differ; the delay is counted from
 * before the transaction) waits for the time; one earlier than this is a hop of a far schedule.
 */
const EARLY_WAIT_MAX_MS = 2_000

/**
 * Publishes a scheduled article at its publish_at. Safe to run twice, late or stale: the update
 * matches only an article still scheduled for the payload's time (see ArticlesService.publishScheduled).
 */
export const publishArticleJob: JobType<PublishArticlePayload, 'publishing'> = {
  queue: 'publishing',
  name: PUBLISH_ARTICLE_JOB,
  async handler (payload, job) {
    const articles = new ArticlesService(job.db)
    const publishAt = new Date(payload.publishAt)
    const early = publishAt.getTime() - Date.now()
    if (early > EARLY_WAIT_MAX_MS) {
      const postponed = await articles.postponePublication(payload.tenantId, payload.articleId, publishAt)
      job.log.info({ article_id: payload.articleId, publish_at: payload.publishAt, postponed }, 'scheduled publication not due yet')
      return
    }
    if (early > 0) await sleep(early)
    const published = await articles.publishScheduled(payload.tenantId, payload.articleId, publishAt)
    job.log.info({ article_id: payload.articleId, publish_at: payload.publishAt, published },
      published ? 'scheduled article published' : 'scheduled publication stale or done already; nothing changed')
  }
}

/** What the article jobs need from the catalog besides their JobContext: nothing yet. */
export type ArticleJobDeps = object

/** The article job types: scheduled publishing. */
export function registerArticleJobs (registry: JobRegistry, _deps: ArticleJobDeps): JobRegistry {
  return registry.register(publishArticleJob)
}
