import type { Database } from '../../platform/db/database.ts'
import { gatherExportDocument } from './export-document.ts'

/** What a run of the export job found to do. */
export type ExportOutcome = 'ready' | 'gone' | 'already-done'

/**
 * Builds one export: marks it running (visible to its owner), gathers the document and stores it
 * as ready with its expiry, in a second transaction that re-checks the state under a row lock. A
 * run that finds the export ready, failed or deleted does nothing; two runs at once store one
 * document, the second matching nothing.
 */
export async function buildExport (db: Database, exportId: string, ttlSeconds: number): Promise<ExportOutcome> {
  const claimed = await db.transaction(null, tx => tx<Array<{ user_id: string }>>`
    update exports set status = 'running', updated_at = now()
    where id = ${exportId} and status in ('pending', 'running')
    returning user_id`)
  if (claimed.length === 0) return 'already-done'

  return await db.transaction(null, async tx => {
    const [row] = await tx<Array<{ user_id: string }>>`
      select user_id from exports where id = ${exportId} and status = 'running' for update`
    if (row === undefined) return 'already-done'
    const document = await gatherExportDocument(tx, row.user_id, exportId)
    if (document === null) {
      // the user was anonymized meanwhile (which deletes its exports): nothing to export
      await tx`update exports set status = 'failed', updated_at = now() where id = ${exportId}`
      return 'gone'
    }
    // audit changes are typed unknown, but were read from jsonb: the document is JSON throughout
    const json = tx.json(document as unknown as Parameters<typeof tx.json>[0])
    await tx`update exports
      set status = 'ready', document = ${json}, expires_at = now() + make_interval(secs => ${ttlSeconds}), updated_at = now()
      where id = ${exportId}`
    return 'ready'
  })
}

/** The export job failed for good: its owner sees `failed` instead of waiting forever. */
export async function markExportFailed (db: Database, exportId: string): Promise<void> {
  await db.transaction(null, tx => tx`
    update exports set status = 'failed', updated_at = now() where id = ${exportId} and status in ('pending', 'running')`)
}

const PURGE_BATCH = 1_000

/**
 * Drops the documents of expired exports (personal data kept no longer than it can be
 * downloaded); the rows stay, so their owners still see `expired`. At most one batch a run: the
 * next run takes the rest. Returns how many were dropped.
 */
export async function purgeExpiredExports (db: Database): Promise<number> {
  const purged = await db.transaction(null, tx => tx`
    update exports set document = null
    where id in (select id from exports where expires_at <= now() and document is not null limit ${PURGE_BATCH})
    returning id`)
  return purged.length
}
