import { jobName, type NoPayload } from '../../platform/jobs/job-name.ts'

/** Moves the last-seen times recorded in Redis to users.last_seen_at (jobs.ts): repeatable, never enqueued. */
export const FLUSH_LAST_SEEN_JOB = jobName<NoPayload, 'maintenance'>('users.flush-last-seen')
