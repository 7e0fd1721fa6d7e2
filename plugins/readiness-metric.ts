import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Gauge } from 'prom-client'
import { readinessOf } from '../src/platform/health.ts'

/**
 * `atrium_ready`: 1 when /readyz would answer 200, else 0, checked when /metrics is scraped (the
 * same bounded probes), so an alert sees readiness failing without a probe of its own.
 */
async function readinessMetricPlugin (app: FastifyInstance): Promise<void> {
  // eslint-disable-next-line no-new -- the registry keeps it; collect() fills it on every scrape
  new Gauge({
    name: 'atrium_ready',
    help: '1 when the process is ready (PostgreSQL and Redis answer, not draining, not overloaded), else 0; as /readyz',
    registers: [app.metrics],
    async collect () {
      const { ready } = await readinessOf(app.sql, app.redis, { draining: app.lifecycle.draining, overloaded: app.isUnderPressure() })
      this.set(ready ? 1 : 0)
    }
  })
}

export default fp(readinessMetricPlugin, {
  name: 'readiness-metric',
  fastify: '5.x',
  dependencies: ['metrics', 'postgres', 'redis', 'lifecycle', 'load-shedding']
})
