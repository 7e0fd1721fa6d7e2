import { jobName, type NoPayload } from '../../platform/jobs/job-name.ts'

/** Builds one export document (jobs.ts); enqueued by PrivacyService.requestExport. */
export const EXPORT_JOB = jobName<{ exportId: string }, 'privacy'>('privacy.export')

/** Anonymizes one account (jobs.ts); enqueued by PrivacyService.requestDeletion, keyed by user. */
export const DELETE_ACCOUNT_JOB = jobName<{ userId: string }, 'privacy'>('privacy.delete-account')

/** Drops expired export documents, every hour (jobs.ts): repeatable, never enqueued. */
export const PURGE_EXPORTS_JOB = jobName<NoPayload, 'privacy'>('privacy.purge-expired-exports')
