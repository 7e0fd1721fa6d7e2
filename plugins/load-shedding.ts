import fp from 'fastify-plugin'
import underPressure from '@fastify/under-pressure'
import type { FastifyInstance, RouteOptions } from 'fastify'
import { Counter } from 'prom-client'
import { AppError } from '../src/platform/errors.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** answer even under pressure (liveness and readiness must keep speaking) */
    shedExempt?: boolean
    /** read by @fastify/under-pressure per route; set from shedExempt */
    pressureHandler?: () => undefined
  }
}

const RETRY_AFTER_S = 5
const proceed = () => undefined

/**
 * Load shedding (@fastify/under-pressure): past MAX_EVENT_LOOP_DELAY_MS of event-loop delay or
 * MAX_HEAP_USED_BYTES of heap, new requests get 503 `unavailable` with Retry-After instead of
 * queueing until they time out. Routes marked `shedExempt` (/healthz, /readyz) still answer;
 * /readyz reports the pressure so a balancer can steer away.
 */
async function loadSheddingPlugin (app: FastifyInstance): Promise<void> {
  const shed = new Counter({
    name: 'atrium_load_shed_total',
    help: 'requests refused with 503 unavailable because the process was overloaded (event-loop delay or heap)',
    registers: [app.metrics]
  })
  const unavailable = async (): Promise<never> => {
    shed.inc()
    throw new AppError('unavailable', { detail: 'the service is overloaded; retry later', retryAfter: RETRY_AFTER_S })
  }
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.config?.shedExempt === true) route.config = { ...route.config, pressureHandler: proceed }
  })
  await app.register(underPressure, {
    maxEventLoopDelay: app.config.MAX_EVENT_LOOP_DELAY_MS,
    maxHeapUsedBytes: app.config.MAX_HEAP_USED_BYTES,
    sampleInterval: 250,
    pressureHandler: unavailable
  })
}

export default fp(loadSheddingPlugin, { name: 'load-shedding', fastify: '5.x', dependencies: ['errors', 'metrics'] })
