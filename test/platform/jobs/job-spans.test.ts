import t from 'tap'
import { randomBytes } from 'node:crypto'
import { runWithContext } from '../../../src/context.ts'
import { createLogger } from '../../../src/platform/logger.ts'
import { enqueue } from '../../../src/platform/jobs/outbox.ts'
import { JobRegistry } from '../../../src/platform/jobs/registry.ts'
import { startTelemetry } from '../../../src/platform/telemetry/index.ts'
import { testConfig } from '../../helpers/app.ts'
import { createTestDatabase } from '../../helpers/database.ts'
import { serviceDatabase, startTestWorker } from '../../helpers/jobs.ts'
import { startOtlpReceiver } from '../../helpers/otlp-receiver.ts'

// Retries are separate spans of the same trace: a job that fails its first attempt and succeeds
// on the second, enqueued in a traced context, run by a worker with tracing on (this test
// process's tracer, exporting to a receiver the test runs).

const JOB = 'test.flaky'

t.test('each attempt of a job is its own span, a child of the span that enqueued it', async tt => {
  const db = await createTestDatabase()
  tt.teardown(() => db.drop())
  const receiver = await startOtlpReceiver(tt)
  const config = testConfig(db, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'atrium-worker-under-test' })
  const telemetry = await startTelemetry(config, createLogger({ LOG_LEVEL: 'silent' }))
  if (telemetry === undefined) throw new Error('tracing did not start with an endpoint set')
  tt.teardown(() => telemetry.shutdown())

  const registry = new JobRegistry().register<{ marker: string }>({
    queue: 'maintenance',
    name: JOB,
    retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 20 },
    async handler (_payload, job) {
      if (job.attempt === 1) throw new Error('the first attempt fails')
      await job.db.transaction(null, tx => tx`select 1`)
    }
  })
  const { logs } = await startTestWorker(tt, db, registry, { config, deps: { telemetry } })

  const traceId = randomBytes(16).toString('hex')
  const parentSpanId = randomBytes(8).toString('hex')
  const { database } = serviceDatabase(tt, db)
  await runWithContext({ requestId: 'req-flaky', route: 'POST /v1/probe', traceparent: `00-${traceId}-${parentSpanId}-01` }, () =>
    database.transaction(null, tx => enqueue(tx, { queue: 'maintenance', name: JOB, payload: { marker: 'flaky' } })))

  const spans = await receiver.waitFor('two attempts of the job and the second one\'s statement', received => {
    const inTrace = received.filter(span => span.traceId === traceId)
    return inTrace.filter(span => span.name === `job ${JOB}`).length === 2 && inTrace.some(span => span.name === 'transaction')
  })
  const attempts = spans.filter(span => span.traceId === traceId && span.name === `job ${JOB}`)
    .sort((a, b) => Number(a.attributes['atrium.job.attempt']) - Number(b.attributes['atrium.job.attempt']))
  tt.match(attempts, [
    { parentSpanId, statusCode: 2, attributes: { 'atrium.job.attempt': 1, 'messaging.destination.name': 'maintenance' } },
    { parentSpanId, statusCode: 0, attributes: { 'atrium.job.attempt': 2 } }
  ], 'two spans, children of the enqueuing span: the failed attempt (status error) and the retry')
  tt.not(attempts[0]?.spanId, attempts[1]?.spanId, 'separate spans')
  tt.equal(attempts[0]?.resource['service.name'], 'atrium-worker-under-test')
  tt.ok(spans.some(span => span.traceId === traceId && span.name === 'transaction' && span.parentSpanId === attempts[1]?.spanId),
    'the retry\'s statement is a child of its span')

  const failed = logs.find(line => line.msg === 'job failed; it will be retried')
  tt.match(failed, { request_id: 'req-flaky', trace_id: traceId, span_id: attempts[0]?.spanId, attempt: 1 },
    'the failure\'s log line carries the trace and the failed attempt\'s span')
})
