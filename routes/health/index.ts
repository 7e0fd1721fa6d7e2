import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { readinessOf } from '../../src/platform/health.ts'

const CheckStatus = Type.Union([Type.Literal('ok'), Type.Literal('fail')])
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  draining: Type.Optional(Type.Boolean()),
  /** event-loop delay or heap past the load-shedding thresholds */
  overloaded: Type.Optional(Type.Boolean()),
  checks: Type.Object({ postgres: CheckStatus, redis: CheckStatus })
})

export const prefixOverride = ''

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    config: { public: true, shedExempt: true },
    schema: {
      summary: 'Liveness: 200 while the process runs',
      tags: ['operations'],
      response: { 200: Type.Object({ status: Type.Literal('ok') }) }
    }
  }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', {
    config: { public: true, shedExempt: true },
    schema: {
      summary: 'Readiness: PostgreSQL and Redis reachable and the process not shutting down',
      tags: ['operations'],
      response: { 200: Readiness, 503: Readiness }
    }
  }, async (_request, reply) => {
    const draining = app.lifecycle.draining
    const overloaded = app.isUnderPressure()
    const { ready, checks } = await readinessOf(app.sql, app.redis, { draining, overloaded })
    reply.code(ready ? 200 : 503)
    return {
      status: ready ? 'ok' as const : 'unavailable' as const,
      ...(draining ? { draining } : {}),
      ...(overloaded ? { overloaded } : {}),
      checks
    }
  })
}

export default healthRoutes
