import { UnrecoverableError } from 'bullmq'
import type { Config } from '../../config.ts'
import type { Database } from '../../platform/db/database.ts'
import { once } from '../../platform/jobs/once.ts'
import type { JobRegistry } from '../../platform/jobs/registry.ts'
import type { Mailer } from '../../platform/mail-transport.ts'
import { anonymizeAccount, DeletionBlockedError } from './account-deletion.ts'
import { deletionBlockedMail } from './deletion-blocked-mail.ts'
import { publishInvalidations } from '../../platform/invalidation.ts'
import { buildExport, markExportFailed, purgeExpiredExports } from './exports.ts'
import { DELETE_ACCOUNT_JOB, EXPORT_JOB, PURGE_EXPORTS_JOB } from './job-names.ts'

const EXPORT_ATTEMPTS = 5
const PURGE_EVERY_MS = 3_600_000

export interface PrivacyJobDeps {
  config: Pick<Config, 'REDIS_PREFIX' | 'EXPORT_TTL_S'>
  mailer: Mailer
}

/**
 * Tells the user their deletion was not done, once per deletion job: the guard row is claimed in
 * the transaction that sends, so a failed send leaves it free for the retry.
 */
async function tellDeletionBlocked (db: Database, mailer: Mailer, userId: string, slugs: readonly string[], jobId: string): Promise<boolean> {
  return await db.transaction(null, async tx => {
    if (!await once(tx, `deletion-blocked:${jobId}`)) return false
    const [user] = await tx<Array<{ email: string }>>`select email from users where id = ${userId} and deleted_at is null`
    if (user === undefined) return false
    await mailer.send(deletionBlockedMail(user.email, slugs, jobId, mailer.domain))
    return true
  })
}

/** The GDPR job types: building an export, anonymizing an account, purging expired exports. Each is safe to run twice. */
export function registerPrivacyJobs (registry: JobRegistry, deps: PrivacyJobDeps): JobRegistry {
  const { config } = deps
  return registry
    .register({
      queue: 'privacy',
      name: EXPORT_JOB,
      retry: { attempts: EXPORT_ATTEMPTS },
      async handler ({ exportId }, job) {
        try {
          const outcome = await buildExport(job.db, exportId, config.EXPORT_TTL_S)
          job.log.info({ export_id: exportId, outcome }, 'export job done')
        } catch (error) {
          if (job.attempt >= EXPORT_ATTEMPTS) await markExportFailed(job.db, exportId)
          throw error
        }
      }
    })
    .register({
      queue: 'privacy',
      name: DELETE_ACCOUNT_JOB,
      async handler ({ userId }, job) {
        let deletion
        try {
          deletion = await anonymizeAccount(job.db, userId)
        } catch (error) {
          if (!(error instanceof DeletionBlockedError)) throw error
          // the request was checked, but the user has since become a tenant's last owner with
          // other members: the account stays whole, the user is told by email (a failed send is
          // retried), and the job ends for good, as retrying the deletion cannot help
          const told = await tellDeletionBlocked(job.db, deps.mailer, userId, error.slugs, job.jobId)
          job.log.warn({ user_id: userId, tenants: error.slugs, told }, 'account deletion blocked: the user is a last owner')
          throw new UnrecoverableError(error.message)
        }
        job.log.info({ user_id: userId, outcome: deletion === null ? 'already-anonymized' : 'anonymized' }, 'account deletion job done')
        // a run that finds the work done still drops the user: the first may have died before publishing
        const invalidations = deletion?.invalidations ?? [['user', userId] as const]
        await publishInvalidations(job.redis, config.REDIS_PREFIX, job.log, invalidations)
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
