/**
 * Articles: drafts, publishing now or on a schedule, per-tenant listing. The public entry of the
 * feature: other features, plugins and routes import from here.
 */
export * from './schemas.ts'
export { ArticlesService } from './service.ts'
export { articlePageTag, articleTag } from './etags.ts'
export { registerArticleJobs } from './jobs.ts'
