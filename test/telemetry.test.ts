import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { createSql } from '../src/platform/db/client.ts'
import { DEMO_PASSWORD, demoEmail } from '../src/seed.ts'
import { spawnEntry, type LogLine } from './helpers/child.ts'
import { testEnv } from './helpers/app.ts'
import { createTestDatabase } from './helpers/database.ts'
import { startOtlpReceiver, type DecodedSpan } from './helpers/otlp-receiver.ts'

// The whole path a trace takes, in the real process (src/server.ts, ROLE=all: API and worker)
// against real PostgreSQL and Redis, exporting with the official OTLP exporter (its default
// protocol, http/protobuf) to a receiver this test runs.

const SERVER = 2
const CONSUMER = 5

const db = await createTestDatabase()
t.teardown(() => db.drop())
const owner = createSql(db.ownerUrl, { max: 1 })
t.teardown(() => owner.end())
const receiver = await startOtlpReceiver(t)

const server = spawnEntry(t, 'src/server.ts', testEnv(db, {
  ROLE: 'all',
  PORT: '0',
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
  OTEL_SERVICE_NAME: 'atrium-under-test',
  OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test,team=core%20api'
}), 60_000)
const listening = await server.waitForLine('listening', line => typeof line.msg === 'string' && line.msg.startsWith('Atrium API listening on '))
const base = String(listening.msg).slice('Atrium API listening on '.length)

interface Traced { traceId: string, parentSpanId: string, traceparent: string }
function newTraceparent (): Traced {
  const traceId = randomBytes(16).toString('hex')
  const parentSpanId = randomBytes(8).toString('hex')
  return { traceId, parentSpanId, traceparent: `00-${traceId}-${parentSpanId}-01` }
}

async function json<T> (response: Response, status: number): Promise<T> {
  const text = await response.text()
  if (response.status !== status) throw new Error(`${response.url}: expected ${status}, got ${response.status} ${text}`)
  return JSON.parse(text) as T
}

const post = async (path: string, body: object, headers: Record<string, string> = {}): Promise<Response> =>
  await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })

const ofTrace = (traceId: string) => (spans: readonly DecodedSpan[]): DecodedSpan[] => spans.filter(span => span.traceId === traceId)
const isStatement = (span: DecodedSpan): boolean => span.attributes['db.system.name'] === 'postgresql'
const linesOf = (requestId: string): LogLine[] => server.lines.filter(line => line.request_id === requestId)

/** The server span the response names in traceresponse: same trace, flags sampled. */
function serverSpanIdOf (tt: Test, response: Response, trace: Traced): string {
  const header = response.headers.get('traceresponse') ?? ''
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(header)
  tt.equal(match?.[1], trace.traceId, `traceresponse (${header}) continues the caller's trace`)
  tt.not(match?.[2], trace.parentSpanId, 'with a span of its own')
  return match?.[2] ?? ''
}

t.test('an article read: the server span continues the traceparent, its statements are children, its log lines carry the ids', async tt => {
  const { access_token: token } = await json<{ access_token: string }>(
    await post('/v1/auth/login', { email: demoEmail('owner', 'acme'), password: DEMO_PASSWORD, tenant: 'acme' }), 200)
  const auth = { authorization: `Bearer ${token}` }
  const { data } = await json<{ data: Array<{ id: string }> }>(await fetch(`${base}/v1/articles?limit=1`, { headers: auth }), 200)
  const articleId = data[0]?.id ?? ''

  const trace = newTraceparent()
  const response = await fetch(`${base}/v1/articles/${articleId}`, { headers: { ...auth, traceparent: trace.traceparent } })
  tt.equal(response.status, 200)
  const serverSpanId = serverSpanIdOf(tt, response, trace)

  const spans = ofTrace(trace.traceId)(await receiver.waitFor('server span and statement of the article read', received => {
    const inTrace = ofTrace(trace.traceId)(received)
    return inTrace.some(span => span.kind === SERVER) && inTrace.some(span => span.name === 'article by id')
  }))
  const serverSpan = spans.find(span => span.kind === SERVER)
  tt.match(serverSpan, {
    name: 'GET /v1/articles/:id',
    spanId: serverSpanId,
    parentSpanId: trace.parentSpanId,
    attributes: { 'http.request.method': 'GET', 'http.response.status_code': 200 },
    resource: { 'service.name': 'atrium-under-test', 'deployment.environment.name': 'test', team: 'core api' }
  }, 'one server span, named after the route, child of the caller\'s span')
  tt.equal(spans.filter(span => span.kind === SERVER).length, 1, 'exactly one server span')

  const statements = spans.filter(isStatement)
  tt.ok(statements.length >= 1, 'the request\'s statements have spans')
  tt.ok(statements.every(span => span.parentSpanId === serverSpanId), 'each a child of the server span')
  tt.match(statements.find(span => span.name === 'article by id'), {
    attributes: { 'db.system': 'postgresql', 'db.response.returned_rows': 1 }
  }, 'the article read, by its statement name, with its row count')
  const recorded = JSON.stringify(statements)
  tt.notOk(recorded.includes(articleId), 'no parameter is recorded')
  tt.notOk(/\bselect\b/i.test(recorded), 'nor the statement text')

  const requestId = response.headers.get('x-request-id') ?? ''
  const lines = linesOf(requestId)
  tt.ok(lines.some(line => line.msg === 'request'), 'the request\'s access line is among its log lines')
  tt.same(lines.filter(line => line.trace_id !== trace.traceId || line.span_id !== serverSpanId), [],
    'every log line of the request carries its trace_id and span_id')
})

t.test('a request that enqueues a job: the outbox row carries the trace, the job span is a child of the request span', async tt => {
  const email = `traced-${randomBytes(4).toString('hex')}@example.test`
  await json(await post('/v1/auth/register', { email, password: 'correct horse battery staple', name: 'Traced' }), 201)
  const { access_token: token } = await json<{ access_token: string }>(
    await post('/v1/auth/login', { email, password: 'correct horse battery staple' }), 200)

  const trace = newTraceparent()
  const response = await post('/v1/me/exports', {}, { authorization: `Bearer ${token}`, traceparent: trace.traceparent })
  const { export: created } = await json<{ export: { id: string } }>(response, 202)
  const serverSpanId = serverSpanIdOf(tt, response, trace)

  const [row] = await owner<Array<{ trace_context: string | null }>>`
    select trace_context from outbox where job_name = 'privacy.export' and payload->>'exportId' = ${created.id}`
  tt.equal(row?.trace_context, `00-${trace.traceId}-${serverSpanId}-01`, 'the outbox row carries the request span\'s traceparent')

  const spans = ofTrace(trace.traceId)(await receiver.waitFor('the export job\'s span and its statements', received => {
    const inTrace = ofTrace(trace.traceId)(received)
    const job = inTrace.find(span => span.kind === CONSUMER)
    return job !== undefined && inTrace.some(span => span.parentSpanId === job.spanId && isStatement(span)) &&
      inTrace.some(span => span.kind === SERVER)
  }))
  tt.match(spans.find(span => span.kind === SERVER), { name: 'POST /v1/me/exports', spanId: serverSpanId, parentSpanId: trace.parentSpanId })
  tt.ok(spans.some(span => isStatement(span) && span.name === 'transaction' && span.parentSpanId === serverSpanId),
    'the request\'s transaction (the export row and the outbox row) is a child of the server span')
  const job = spans.find(span => span.kind === CONSUMER)
  tt.match(job, {
    name: 'job privacy.export',
    parentSpanId: serverSpanId,
    attributes: { 'messaging.system': 'bullmq', 'messaging.destination.name': 'privacy', 'atrium.job.attempt': 1 }
  }, 'the job\'s span is in the request\'s trace, a child of its server span')
  tt.ok(spans.some(span => isStatement(span) && span.parentSpanId === job?.spanId), 'the job\'s statements are children of the job span')
})
