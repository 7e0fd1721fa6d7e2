import type { Ratio, Scenario, ServerSpec } from './types.ts'

/**
 * Servers, scenarios and ratios: the whole suite as data. A new measurement is a Scenario here
 * (and, for a new baseline, a route in bench/servers/bare.ts); a new target is a Ratio.
 */

export const bare: ServerSpec = {
  name: 'bare',
  script: 'dist/bench/servers/bare.js',
  env: () => ({ NODE_ENV: 'production' })
}

export const atrium: ServerSpec = {
  name: 'atrium',
  script: 'dist/bench/servers/atrium.js',
  env: context => ({
    NODE_ENV: 'production',
    ROLE: 'api',
    LOG_LEVEL: 'info',
    DATABASE_URL: context.runtimeUrl,
    REDIS_URL: context.redisUrl,
    REDIS_PREFIX: context.redisPrefix,
    JWT_SECRETS: context.secrets.jwt,
    PAYMENTS_WEBHOOK_SECRETS: context.secrets.paymentsWebhook
  })
}

const bareHello: Scenario = { name: 'bare GET /hello', server: bare, path: '/hello' }
const atriumHealthz: Scenario = { name: 'atrium GET /healthz', server: atrium, path: '/healthz' }

/** Run in this order in every round: a baseline before the scenarios measured against it. */
export const scenarios: Scenario[] = [bareHello, atriumHealthz]

export const ratios: Ratio[] = [
  {
    name: 'atrium /healthz ÷ bare /hello',
    numerator: atriumHealthz,
    denominator: bareHello,
    target: 0.7,
    direction: '>='
  },
  {
    name: 'atrium peak RSS (/healthz) ÷ bare peak RSS (/hello)',
    numerator: atriumHealthz,
    denominator: bareHello,
    metric: 'peakRssKb',
    target: 1.5,
    direction: '<='
  }
]
