import t from 'tap'
import { ACCESS_MESSAGE, AccessLine, createLogger } from '../../src/platform/logger.ts'
import { runWithContext } from '../../src/context.ts'
import { fastifyLogger } from '../../src/http/server-options.ts'

/** A process logger writing into an array, as buildApp's is given a destination by the tests. */
function capturingLogger () {
  const lines: string[] = []
  const logger = createLogger({ LOG_LEVEL: 'info' }, { write: (line: string) => { lines.push(line) } })
  return { logger, lines }
}

const withoutTime = (line: string | undefined) => line?.replace(/,"time":\d+/, ',"time":0')

const lines: Array<ConstructorParameters<typeof AccessLine>> = [
  ['4b1f3c1e-6a8e-4c55-9d8e-2f0c1e0a7b11', undefined, undefined, 'GET', 'GET /v1/features', 200, 0.52, '01a251a8-75a6-7bf5-9928-440626e64a22', '01a251a8-75ba-74a4-8edb-353c822cbfd4'],
  ['req-1', '0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', 'POST', 'POST /v1/articles', 201, 12, undefined, undefined],
  ['req:2', undefined, undefined, 'PROPFIND', 'unmatched', 404, 0, undefined, undefined],
  ['req.3', undefined, undefined, 'GET', 'GET /odd/"quoted"\\path', 503, Number.NaN, 'tenant', undefined]
]

t.test('an access line is written as pino writes the same fields, character for character', async tt => {
  const { logger, lines: written } = capturingLogger()
  for (const fields of lines) {
    const [requestId, traceId, spanId, method, route, status, durationMs, tenantId, userId] = fields
    logger.info(new AccessLine(...fields), ACCESS_MESSAGE)
    // the same fields as a plain object take pino's generic serializer
    logger.info({ request_id: requestId, trace_id: traceId, span_id: spanId, method, route, status, duration_ms: durationMs, tenant_id: tenantId, user_id: userId }, ACCESS_MESSAGE)
    const [direct, generic] = written.splice(0, 2)
    tt.equal(withoutTime(direct), withoutTime(generic), route)
  }
})

t.test('an access line inside a request context carries its own ids only, as before', async tt => {
  const { logger, lines: written } = capturingLogger()
  runWithContext({ requestId: 'outer', route: 'GET /x', tenantId: 'other-tenant', userId: 'other-user' }, () => {
    logger.info(new AccessLine('inner', undefined, undefined, 'GET', 'GET /x', 200, 1, undefined, undefined), ACCESS_MESSAGE)
  })
  const line = JSON.parse(written[0] ?? '{}') as Record<string, unknown>
  tt.equal(line.request_id, 'inner')
  tt.notOk('tenant_id' in line, 'no tenant from the context')
  tt.equal(line.msg, 'request')
  tt.equal(line.level, 'info')
})

t.test('other lines and levels are untouched', async tt => {
  const { logger, lines: written } = capturingLogger()
  logger.warn(new AccessLine('id', undefined, undefined, 'GET', 'GET /x', 200, 1, undefined, undefined), 'another message')
  logger.debug(new AccessLine('id', undefined, undefined, 'GET', 'GET /x', 200, 1, undefined, undefined), ACCESS_MESSAGE)
  logger.info({ token: 'secret-token' }, 'redacted')
  tt.equal(written.length, 2, 'debug stays below the level')
  tt.match(JSON.parse(written[0] ?? '{}'), { level: 'warn', msg: 'another message', request_id: 'id', route: 'GET /x' })
  tt.match(JSON.parse(written[1] ?? '{}'), { token: '[redacted]' })
})

t.test("Fastify's logger is the process logger whose child() is itself", async tt => {
  const { logger, lines: written } = capturingLogger()
  const shared = fastifyLogger(logger)
  tt.equal(shared.child({ reqId: 'r-1' }), shared, 'no child per request')
  shared.info(new AccessLine('r-1', undefined, undefined, 'GET', 'GET /x', 200, 1, undefined, undefined), ACCESS_MESSAGE)
  shared.warn({ detail: 'x' }, 'a warning')
  tt.equal(written.length, 2, 'written to the process logger\'s destination')
  tt.match(JSON.parse(written[0] ?? '{}'), { request_id: 'r-1', msg: 'request' })
  tt.notOk('reqId' in JSON.parse(written[1] ?? '{}'), 'no bindings of its own')
})
