import { createSql, quoteIdentifier, withDatabase, type Sql } from '../src/platform/db/client.ts'
import { ensureDatabase, migrate } from '../src/platform/db/migrate.ts'

export const BENCH_DATABASE = 'atrium_bench'
const OWNER_URL = `postgres://postgres@127.0.0.1:5432/${BENCH_DATABASE}`
const RUNTIME_URL = `postgres://atrium_app@127.0.0.1:5432/${BENCH_DATABASE}`
/**
 * Held for the whole bench so two benches never share the machine or the database; distinct from
 * the test template lock (test/helpers/database.ts) so a bench never stalls the tests.
 */
const BENCH_LOCK_KEY = 4_711_2026

export interface BenchDatabase {
  ownerUrl: string
  runtimeUrl: string
  serverVersion: string
  /** releases the bench lock */
  release: () => Promise<void>
}

/**
 * Takes the bench lock, then drops and recreates the bench database and migrates it with the
 * app's own runner, so every bench starts from the same state.
 */
export async function prepareBenchDatabase (log: (message: string) => void): Promise<BenchDatabase> {
  const admin: Sql = createSql(withDatabase(OWNER_URL, 'postgres'), { max: 1, idleTimeout: 0, applicationName: 'atrium-bench' })
  try {
    const [lock] = await admin<Array<{ locked: boolean }>>`select pg_try_advisory_lock(${BENCH_LOCK_KEY}) as locked`
    if (lock?.locked !== true) throw new Error('another `npm run bench` is running (it holds the bench lock); wait for it to finish')
    const [version] = await admin<Array<{ server_version: string }>>`show server_version`
    await admin.unsafe(`drop database if exists ${quoteIdentifier(BENCH_DATABASE)} with (force)`)
    await ensureDatabase(OWNER_URL, log)
    const { applied } = await migrate({ ownerUrl: OWNER_URL, runtimeUrl: RUNTIME_URL, log: m => log(`migrate: ${m}`) })
    log(`database ${BENCH_DATABASE}: fresh, ${applied.length} migration(s) applied`)
    return {
      ownerUrl: OWNER_URL,
      runtimeUrl: RUNTIME_URL,
      serverVersion: version?.server_version ?? 'unknown',
      release: () => admin.end({ timeout: 5 })
    }
  } catch (error) {
    await admin.end({ timeout: 5 })
    throw error
  }
}
