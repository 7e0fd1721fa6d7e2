import type { BackoffStrategy } from 'bullmq'

/** How a job type is retried: `attempts` runs in all, waits drawn by full jitter under a cap. */
export interface RetryPolicy {
  attempts: number
  baseDelayMs: number
  maxDelayMs: number
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 5, baseDelayMs: 1_000, maxDelayMs: 300_000 }

/** The name job options give the strategy below (`backoff: { type: 'jitter' }`). */
export const JITTER_BACKOFF = 'jitter'

/**
 * Exponential backoff with full jitter: a wait drawn uniformly from [0, min(cap, base * 2^(n-1))]
 * after the n-th failure. Retries of many jobs that failed together (Redis or SMTP back after an
 * outage) spread out instead of arriving in waves.
 */
export function fullJitterDelay (failures: number, policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, failures - 1))
  return Math.min(ceiling, Math.floor(random() * (ceiling + 1)))
}

/** The Worker's `settings.backoffStrategy`: the policy of the failed job's type, by job name. */
export function jitterBackoffStrategy (policyOf: (jobName: string) => RetryPolicy, random: () => number = Math.random): BackoffStrategy {
  return (attemptsMade, _type, _error, job) => fullJitterDelay(attemptsMade, policyOf(job?.name ?? ''), random)
}
