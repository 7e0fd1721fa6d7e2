import type { TransactionSql } from '../db/database.ts'

/**
 * Claims `key` in the caller's transaction: true the first time, false when a committed run
 * already claimed it. A concurrent run with the same key waits for the first to commit (then gets
 * false) or roll back (then gets true). Do the job's effect in the same transaction, only when true.
 */
export async function once (tx: TransactionSql, key: string): Promise<boolean> {
  const claimed = await tx`insert into processed_jobs (key) values (${key}) on conflict (key) do nothing returning key`
  return claimed.length === 1
}
