import t from 'tap'
import { randomBytes } from 'node:crypto'
import * as nodeModule from 'node:module'
import { spawnEntry, type ChildProcessHandle, type LogLine } from './helpers/child.ts'
import { testEnv } from './helpers/app.ts'
import { createTestDatabase } from './helpers/database.ts'
import { startOtlpReceiver } from './helpers/otlp-receiver.ts'

// Tracing off costs nothing because none of it is loaded: the real server (API and worker, as
// `npm start` runs it) under a resolve hook that reports every OpenTelemetry module resolved.
// The same fixture with an endpoint set reports them, so the hook is seen to work.

// module.registerHooks (test/fixtures/watch-modules.ts) is Node 22.15+; CI and the image run Node 24
if (!('registerHooks' in nodeModule)) {
  t.plan(0, `Node ${process.version} has no module.registerHooks: the loaded-modules check needs Node 22.15 or later`)
} else {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())

  const isLoadedModule = (line: LogLine): boolean => typeof line.loaded_module === 'string'

  async function startWatched (env: Record<string, string>): Promise<{ server: ChildProcessHandle, base: string }> {
    const server = spawnEntry(t, 'test/fixtures/watch-modules.ts', testEnv(db, {
      ROLE: 'all',
      PORT: '0',
      ...env
    }), 60_000)
    const listening = await server.waitForLine('listening', line => typeof line.msg === 'string' && line.msg.startsWith('Atrium API listening on '))
    await server.waitForLine('worker started', line => line.msg === 'worker started')
    return { server, base: String(listening.msg).slice('Atrium API listening on '.length) }
  }

  const traceparent = (traceId: string): string => `00-${traceId}-${randomBytes(8).toString('hex')}-01`

  t.test('without OTEL_EXPORTER_OTLP_ENDPOINT no OpenTelemetry SDK, exporter or instrumentation is loaded (only the API prom-client requires), through a request that carries a traceparent', async tt => {
    const { server, base } = await startWatched({})
    const traceId = randomBytes(16).toString('hex')
    const response = await fetch(`${base}/v1/features`, { headers: { traceparent: traceparent(traceId) } })
    await response.arrayBuffer()
    tt.equal(response.headers.get('traceresponse'), null, 'no traceresponse: there is no server span')
    const requestId = response.headers.get('x-request-id')
    const access = await server.waitForLine('access line', line => line.request_id === requestId && line.msg === 'request')
    tt.equal(access.trace_id, traceId, 'the log line still carries the incoming trace id, as before')
    tt.equal(access.span_id, undefined, 'and no span id')
    // prom-client requires @opentelemetry/api (for exemplars) whatever Atrium does: with no provider
    // registered it is the API's no-op. Nothing else of OpenTelemetry may be loaded.
    const loaded = server.lines.filter(isLoadedModule)
    const outsideApi = loaded.filter(line => !String(line.loaded_module).includes('/node_modules/@opentelemetry/api/'))
    tt.same(outsideApi, [], 'no OpenTelemetry SDK, exporter or @fastify/otel module was resolved')
    const entries = loaded.filter(line => !String(line.by).includes('/node_modules/@opentelemetry/api/'))
    tt.ok(entries.length > 0 && entries.every(line => String(line.by).includes('/node_modules/prom-client/')),
      `the API itself only by prom-client (${entries.map(line => String(line.by)).join(', ')})`)
  })

  t.test('with it set (http/json) the SDK is loaded, and spans arrive as OTLP/JSON', async tt => {
    const receiver = await startOtlpReceiver(tt)
    const { server, base } = await startWatched({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })
    const loaded = server.lines.filter(isLoadedModule).map(line => String(line.loaded_module))
    tt.ok(loaded.some(url => url.includes('/@opentelemetry/sdk-trace/')), 'the hook sees the SDK when it is loaded')
    tt.ok(loaded.some(url => url.includes('/@opentelemetry/exporter-trace-otlp-http/')), 'the JSON exporter')
    tt.notOk(loaded.some(url => url.includes('/@opentelemetry/exporter-trace-otlp-proto/')), 'and not the protobuf one')

    const traceId = randomBytes(16).toString('hex')
    const response = await fetch(`${base}/v1/features`, { headers: { traceparent: traceparent(traceId) } })
    await response.arrayBuffer()
    await receiver.waitFor('the server span', spans => spans.some(span => span.traceId === traceId && span.name === 'GET /v1/features'))
    tt.ok(receiver.contentTypes.length > 0 && receiver.contentTypes.every(type => type.startsWith('application/json')), 'exported as application/json')
  })
}
