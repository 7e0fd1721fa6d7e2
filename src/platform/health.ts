import type { Sql } from './db/database.ts'
import type { Redis } from 'ioredis'
import { withinOr } from './within.ts'

export type CheckResult = 'ok' | 'fail'

const CHECK_TIMEOUT_MS = 1_000

/** Resolves 'fail' when the probe rejects or takes longer than the timeout. */
export async function bounded (probe: () => Promise<unknown>, timeoutMs = CHECK_TIMEOUT_MS): Promise<CheckResult> {
  return await withinOr(timeoutMs, 'fail', probe().then(() => 'ok' as const, () => 'fail' as const))
}

export async function checkDependencies (sql: Sql, redis: Redis): Promise<{ postgres: CheckResult, redis: CheckResult }> {
  const [postgres, redisResult] = await Promise.all([
    bounded(() => sql`select 1`.execute()),
    bounded(() => redis.ping())
  ])
  return { postgres, redis: redisResult }
}

export interface Readiness {
  ready: boolean
  checks: { postgres: CheckResult, redis: CheckResult }
}

/** Ready: PostgreSQL and Redis answer, the process is not draining and not overloaded. What /readyz and atrium_ready report. */
export async function readinessOf (sql: Sql, redis: Redis, state: { draining: boolean, overloaded: boolean }): Promise<Readiness> {
  const checks = await checkDependencies(sql, redis)
  return { ready: !state.draining && !state.overloaded && checks.postgres === 'ok' && checks.redis === 'ok', checks }
}
