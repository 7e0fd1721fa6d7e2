import type { Database } from '../../platform/db/database.ts'
import { AppError, conflict, forbidden, notFound } from '../../platform/errors.ts'
import { verifyPassword } from '../auth/index.ts'
import { enqueue } from '../../platform/jobs/outbox.ts'
import { tenantStanding, tenantsBlockingDeletion } from './account-deletion.ts'
import { DELETE_ACCOUNT_JOB, EXPORT_JOB } from './job-names.ts'
import type { Loaded } from '../../schemas/common.ts'
import type { ExportDocument, ExportEnvelope, ExportStatus } from './schemas.ts'

/** an export as `GET /v1/me/exports/:id` answers it, expires_at the Date PostgreSQL returns */
export type ExportView = Loaded<typeof ExportEnvelope>['export']

interface ExportRow {
  id: string
  /** 'expired' is not stored: it is derived from expires_at */
  status: Exclude<ExportStatus, 'expired'>
  expires_at: Date | null
  expired: boolean
}

const exportNotFound = () => notFound('no such export')

/** Exports a user may request in any rolling 24 h (failed ones, our failure, do not count). */
export const EXPORTS_PER_DAY = 5

export const downloadPath = (exportId: string): string => `/v1/me/exports/${exportId}/download`

/**
 * GDPR: a user's data exports and the deletion of its account. Both do their work in a job
 * (src/features/privacy/jobs.ts) enqueued through the outbox in the request's transaction. Exports are the
 * user's own: every query is scoped by the caller's id, and another user's export is not found.
 */
export class PrivacyService {
  constructor (private readonly db: Database) {}

  /**
   * Queues an export, or answers the caller's export that is still waiting (migration 0010: one
   * pending export per user). A concurrent request waits for this one's insert and then finds it.
   * Beyond EXPORTS_PER_DAY in the last 24 h: 429 rate_limited, Retry-After when the oldest of
   * them leaves the window; a waiting export is answered whatever the count.
   */
  async requestExport (userId: string): Promise<{ id: string, status: 'pending' }> {
    return await this.db.transaction(null, async tx => {
      // one user's requests one at a time, so two cannot both pass the count below
      await tx`select id from users where id = ${userId} for no key update`
      const [pending] = await tx<Array<{ id: string }>>`select id from exports where user_id = ${userId} and status = 'pending'`
      if (pending !== undefined) return { id: pending.id, status: 'pending' as const }
      const [capped] = await tx<Array<{ retry_after: number }>>`
        select ceil(extract(epoch from created_at + interval '24 hours' - now()))::int as retry_after
        from exports
        where user_id = ${userId} and status <> 'failed' and created_at > now() - interval '24 hours'
        order by created_at desc
        offset ${EXPORTS_PER_DAY - 1} limit 1`
      if (capped !== undefined) {
        const retryAfter = Math.max(1, capped.retry_after)
        throw new AppError('rate_limited', { detail: `at most ${EXPORTS_PER_DAY} exports a day; retry in ${retryAfter} s`, retryAfter })
      }
      // the waiting export may start between the two statements; then there is room for a new one
      for (let attempt = 0; attempt < 3; attempt++) {
        const [created] = await tx<Array<{ id: string }>>`
          insert into exports (user_id) values (${userId})
          on conflict (user_id) where status = 'pending' do nothing
          returning id`
        if (created !== undefined) {
          await enqueue(tx, { queue: 'privacy', name: EXPORT_JOB, payload: { exportId: created.id }, tenantId: null })
          return { id: created.id, status: 'pending' as const }
        }
        const [waiting] = await tx<Array<{ id: string }>>`select id from exports where user_id = ${userId} and status = 'pending'`
        if (waiting !== undefined) return { id: waiting.id, status: 'pending' as const }
      }
      throw new Error('requestExport: the pending export kept changing under three attempts')
    })
  }

  async exportStatus (userId: string, exportId: string): Promise<ExportView> {
    const [row] = await this.db.read('export status', null, sql => sql<ExportRow[]>`
      select id, status, expires_at, coalesce(expires_at <= now(), false) as expired
      from exports where id = ${exportId} and user_id = ${userId}`)
    if (row === undefined) throw exportNotFound()
    if (row.status !== 'ready' || row.expires_at === null) return { id: row.id, status: row.status }
    if (row.expired) return { id: row.id, status: 'expired', expires_at: row.expires_at }
    return { id: row.id, status: 'ready', download_url: downloadPath(row.id), expires_at: row.expires_at }
  }

  /** The document of the caller's own ready export, until it expires; anything else is not found. */
  async exportDocument (userId: string, exportId: string): Promise<ExportDocument> {
    const [row] = await this.db.read('export document', null, sql => sql<Array<{ document: ExportDocument }>>`
      select document from exports
      where id = ${exportId} and user_id = ${userId} and status = 'ready' and expires_at > now() and document is not null`)
    if (row === undefined) throw exportNotFound()
    return row.document
  }

  /**
   * Confirms the password, refuses while the user is the last owner of a tenant that has other
   * members, then enqueues the anonymization (keyed by user, so repeated requests make one job).
   */
  async requestDeletion (userId: string, password: string): Promise<void> {
    const [user] = await this.db.read('deletion credentials', null, sql => sql<Array<{ password_hash: string }>>`
      select password_hash from users where id = ${userId} and deleted_at is null`)
    if (user === undefined) throw new AppError('unauthenticated', { detail: 'the user no longer exists' })
    if (!await verifyPassword(password, user.password_hash)) throw forbidden('the password is not right')

    await this.db.transaction(null, async tx => {
      const blocking = tenantsBlockingDeletion(await tenantStanding(tx, userId))
      if (blocking.length > 0) {
        throw conflict(`you are the last owner of ${blocking.map(t => t.slug).join(', ')}, which have other members: make another owner first`)
      }
      await enqueue(tx, { queue: 'privacy', name: DELETE_ACCOUNT_JOB, payload: { userId }, tenantId: null, jobId: `privacy-delete-${userId}` })
    })
  }
}
