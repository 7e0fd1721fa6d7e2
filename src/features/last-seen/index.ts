/**
 * When each user was last seen: recorded in Redis per request, flushed to users by a job. The
 * public entry of the feature: other features, plugins and routes import from here.
 */
export { LastSeenRecorder, lastSeenKey } from './service.ts'
export { registerLastSeenJobs } from './jobs.ts'
