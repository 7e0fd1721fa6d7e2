import { jobName } from '../../platform/jobs/job-name.ts'

/** What the publishing job carries: the article and the time it was scheduled for when the job was made. */
export type PublishArticlePayload = Readonly<{ articleId: string, tenantId: string, publishAt: string }>

/** Publishes a scheduled article at its publish_at (jobs.ts); enqueued by scheduled-publishing.ts. */
export const PUBLISH_ARTICLE_JOB = jobName<PublishArticlePayload, 'publishing'>('articles.publish-scheduled')
