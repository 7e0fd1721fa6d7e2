import t from 'tap'
import { createServer } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { loadConfig } from '../../src/config.ts'
import { createLogger } from '../../src/platform/logger.ts'
import { startTelemetry } from '../../src/platform/telemetry/index.ts'
import { diagnosticsLog } from '../../src/platform/telemetry/diagnostics.ts'
import { logCollector } from '../helpers/app.ts'

t.test('the SDK\'s complaints are warnings, at most one a minute, with the count left out', async tt => {
  const lines: Array<{ fields: object, message: string }> = []
  let clock = 0
  const logger = diagnosticsLog({ warn: (fields, message) => { lines.push({ fields, message }) } }, () => clock)
  logger.error('export failed', new Error('connect ECONNREFUSED'))
  clock = 1_000
  logger.warn('Dropped 10 spans because maxQueueSize reached')
  logger.info('not shown')
  clock = 61_000
  logger.error('export failed again')
  tt.same(lines, [
    { fields: { component: 'opentelemetry' }, message: 'tracing: export failed connect ECONNREFUSED' },
    { fields: { component: 'opentelemetry', suppressed: 1 }, message: 'tracing: export failed again' }
  ])
})

t.test('a collector that is not there: a warning in the log, and shutdown still ends cleanly', async tt => {
  const closed = createServer()
  closed.listen(0, '127.0.0.1')
  await once(closed, 'listening')
  const { port } = closed.address() as AddressInfo
  await new Promise(resolve => closed.close(resolve))

  const { stream, logs } = logCollector()
  const config = loadConfig({ NODE_ENV: 'test', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` }, '/nonexistent/.env')
  const telemetry = await startTelemetry(config, createLogger({ LOG_LEVEL: 'info' }, stream))
  if (telemetry === undefined) throw new Error('tracing did not start with an endpoint set')
  await telemetry.job({ name: 'test.nothing', queue: 'maintenance', jobId: 'j-1', attempt: 1, traceparent: null }, async () => {})
  await telemetry.shutdown()
  await new Promise(resolve => setImmediate(resolve))
  const warnings = logs.filter(line => line.component === 'opentelemetry' && line.level === 'warn')
  tt.ok(warnings.length > 0, `the failed export is logged as a warning (${JSON.stringify(warnings)})`)
})
