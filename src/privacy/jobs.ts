import { UnrecoverableError } from 'bullmq'
import type { Config } from '../config.ts'
import type { JobRegistry } from '../jobs/registry.ts'
import { anonymizeAccount, DeletionBlockedError } from './account-deletion.ts'
import { publishInvalidations } from '../invalidation.ts'
import { buildExport, markExportFailed, purgeExpiredExports } from './exports.ts'

export const EXPORT_JOB = 'privacy.export'
export const DELETE_ACCOUNT_JOB = 'privacy.delete-account'
export const PURGE_EXPORTS_JOB = 'privacy.purge-expired-exports'

export type ExportJobPayload = { exportId: string }
export type DeleteAccountJobPayload = { userId: string }

const EXPORT_ATTEMPTS = 5
const PURGE_EVERY_MS = 3_600_000

export type PrivacyJobSettings = Pick<Config, 'REDIS_PREFIX' | 'EXPORT_TTL_S'>

/** The GDPR job types: building an export, anonymizing an account, purging expired exports. Each is safe to run twice. */
export function registerPrivacyJobs (registry: JobRegistry, settings: PrivacyJobSettings): JobRegistry {
  return registry
    .register<ExportJobPayload>({
      queue: 'privacy',
      name: EXPORT_JOB,
      retry: { attempts: EXPORT_ATTEMPTS },
      async handler ({ exportId }, job) {
        try {
          const outcome = await buildExport(job.db, exportId, settings.EXPORT_TTL_S)
          job.log.info({ export_id: exportId, outcome }, 'export job done')
        } catch (error) {
          if (job.attempt >= EXPORT_ATTEMPTS) await markExportFailed(job.db, exportId)
          throw error
        }
      }
    })
    .register<DeleteAccountJobPayload>({
      queue: 'privacy',
      name: DELETE_ACCOUNT_JOB,
      async handler ({ userId }, job) {
        let deletion
        try {
          deletion = await anonymizeAccount(job.db, userId)
        } catch (error) {
          // the request was checked, but the user has since become a tenant's last owner with
          // other members: retrying cannot help; the account stays as it was, whole
          if (error instanceof DeletionBlockedError) throw new UnrecoverableError(error.message)
          throw error
        }
        job.log.info({ user_id: userId, outcome: deletion === null ? 'already-anonymized' : 'anonymized' }, 'account deletion job done')
        // a run that finds the work done still drops the user: the first may have died before publishing
        const invalidations = deletion?.invalidations ?? [['user', userId] as const]
        await publishInvalidations(job.redis, settings.REDIS_PREFIX, job.log, invalidations)
      }
    })
    .register({
      queue: 'privacy',
      name: PURGE_EXPORTS_JOB,
      repeatEveryMs: PURGE_EVERY_MS,
      // the next run comes within the hour and takes what this one left
      retry: { attempts: 1 },
      async handler (_payload, job) {
        const purged = await purgeExpiredExports(job.db)
        if (purged > 0) job.log.info({ purged }, 'expired export documents dropped')
      }
    })
}
