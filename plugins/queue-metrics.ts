import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Gauge } from 'prom-client'
import { OutageLog } from '../src/platform/outage-log.ts'
import { bullPrefix, JobQueues, queueNames, type QueueCounts } from '../src/platform/jobs/queues.ts'

const STATES = ['waiting', 'active', 'delayed', 'failed'] as const satisfies ReadonlyArray<keyof QueueCounts>
/** a scrape waits no longer than this for Redis */
const COUNTS_TIMEOUT_MS = 1_000

/**
 * Job queue depths in /metrics: `atrium_job_queue_jobs{queue, state}`, read from Redis when
 * /metrics is scraped and never otherwise, so requests pay nothing for it. While Redis is away
 * the series are left out (the rest of the scrape still answers) and one warning is logged.
 */
async function queueMetricsPlugin (app: FastifyInstance): Promise<void> {
  const queues = new JobQueues(app.redis, bullPrefix(app.config), COUNTS_TIMEOUT_MS)
  const outage = new OutageLog(app.log, {
    failed: 'queue depths not read; left out of /metrics',
    recovered: 'queue depths readable again',
    err: 'message'
  })

  // eslint-disable-next-line no-new -- the registry keeps it; collect() fills it on every scrape
  new Gauge({
    name: 'atrium_job_queue_jobs',
    help: 'jobs in each BullMQ queue by state (waiting, active, delayed, failed), read at scrape time',
    labelNames: ['queue', 'state'] as const,
    registers: [app.metrics],
    async collect () {
      this.reset()
      try {
        const counts = await queues.counts()
        for (const queue of queueNames) {
          for (const state of STATES) this.labels(queue, state).set(counts[queue][state])
        }
        outage.recovered()
      } catch (error) {
        outage.failed(error)
      }
    }
  })

  app.addHook('onClose', async () => {
    await queues.close()
  })
}

export default fp(queueMetricsPlugin, { name: 'queue-metrics', fastify: '5.x', dependencies: ['metrics', 'redis'] })
