import type { Sql } from 'postgres'
import { createSql } from '../../src/platform/db/client.ts'

/** Runs fn on a one-connection pool to `url` (a test database's owner or runtime URL), then closes it. */
export async function withSql<T> (url: string, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = createSql(url, { max: 1 })
  try {
    return await fn(sql)
  } finally {
    await sql.end({ timeout: 5 })
  }
}
