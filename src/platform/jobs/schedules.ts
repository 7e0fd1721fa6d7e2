import type { Logger } from '../logger.ts'
import { JITTER_BACKOFF } from './backoff.ts'
import type { JobData } from './job-data.ts'
import type { JobQueues } from './queues.ts'
import type { JobRegistry, RegisteredJobType } from './registry.ts'
import { within } from '../within.ts'

const RETRY_MS = 5_000
const REDIS_TIMEOUT_MS = 2_000

/** A repeated job comes from no outbox row and no request. */
const repeatedJobData: JobData = { outboxId: '0', payload: {}, requestId: null, tenantId: null }

async function upsert (queues: JobQueues, type: RegisteredJobType & { repeatEveryMs: number }): Promise<void> {
  await within(REDIS_TIMEOUT_MS, `the ${type.name} job scheduler`, queues.get(type.queue).upsertJobScheduler(
    type.name,
    { every: type.repeatEveryMs },
    {
      name: type.name,
      data: repeatedJobData,
      opts: {
        attempts: type.retry.attempts,
        backoff: { type: JITTER_BACKOFF, delay: type.retry.baseDelayMs },
        removeOnComplete: { count: 100 },
        removeOnFail: { count: 1_000 }
      }
    }))
}

export interface Schedules {
  /** stops retrying and waits for an upsert in flight */
  stop: () => Promise<void>
}

/**
 * Keeps one BullMQ job scheduler per repeatable job type, keyed by the job name, so however many
 * workers run, each interval makes one job (and a changed interval replaces the old one). With
 * Redis away at start the upsert is retried every few seconds until it succeeds or stop().
 */
export function keepSchedules (queues: JobQueues, registry: JobRegistry, log: Logger): Schedules {
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  const pending = new Set(registry.repeatable())

  async function attempt (): Promise<void> {
    for (const type of [...pending]) {
      if (stopped || type.repeatEveryMs === undefined) return
      try {
        await upsert(queues, { ...type, repeatEveryMs: type.repeatEveryMs })
        pending.delete(type)
      } catch (error) {
        log.warn({ err: error, job: type.name }, `job scheduler not set; retrying in ${RETRY_MS} ms`)
      }
    }
    if (pending.size > 0 && !stopped) timer = setTimeout(() => { running = attempt() }, RETRY_MS)
  }

  running = attempt()
  return {
    async stop () {
      stopped = true
      clearTimeout(timer)
      await running
    }
  }
}
