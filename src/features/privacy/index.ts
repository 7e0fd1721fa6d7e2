/**
 * GDPR: data exports and account deletion, with their jobs. The public entry of the feature: other
 * features, plugins and routes import from here.
 */
export * from './schemas.ts'
export { PrivacyService } from './service.ts'
export { registerPrivacyJobs } from './jobs.ts'
