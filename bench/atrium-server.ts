import type { BenchContext, ServerSpec } from './types.ts'

/**
 * Atrium as production runs it (compiled, NODE_ENV=production, ROLE=api, LOG_LEVEL=info) on the bench
 * database as the runtime role, with the bench's Redis and secrets; `extra` over that.
 */
export const atriumEnv = (context: BenchContext, extra: Record<string, string> = {}): Record<string, string> => ({
  NODE_ENV: 'production',
  ROLE: 'api',
  LOG_LEVEL: 'info',
  DATABASE_URL: context.runtimeUrl,
  REDIS_URL: context.redisUrl,
  REDIS_PREFIX: context.redisPrefix,
  JWT_SECRETS: context.secrets.jwt,
  PAYMENTS_WEBHOOK_SECRETS: context.secrets.paymentsWebhook,
  ...extra
})

/**
 * bench/servers/worker.ts: the worker role in its own process, as production runs it beside the
 * API. At a lower CPU priority (nice 10): production gives workers cores of their own, the bench
 * has two cores for everything, and a worker at the API's priority would take half of them from
 * the API whenever a scenario enqueues jobs (the webhook scenario: 0.22 of the article read's
 * req/s with it, about 0.5 without). It still relays and runs what the API leaves it time for.
 */
export const atriumWorker: ServerSpec = {
  name: 'atrium-worker',
  script: 'dist/bench/servers/worker.js',
  env: context => atriumEnv(context, { ROLE: 'worker' }),
  niceness: 10
}

/** bench/servers/atrium.ts: buildApp with the bench's probe routes, and its worker beside it */
export const atrium: ServerSpec = {
  name: 'atrium',
  script: 'dist/bench/servers/atrium.js',
  env: context => atriumEnv(context),
  worker: atriumWorker
}
