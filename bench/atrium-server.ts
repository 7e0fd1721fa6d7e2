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

/** bench/servers/atrium.ts: buildApp with the bench's probe routes */
export const atrium: ServerSpec = {
  name: 'atrium',
  script: 'dist/bench/servers/atrium.js',
  env: context => atriumEnv(context)
}
