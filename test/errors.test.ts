import t, { type Test } from 'tap'
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { buildTestApp } from './helpers/app.ts'

const probe: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/probe/things', {
    config: { public: true },
    schema: {
      body: Type.Object({ title: Type.String({ minLength: 1 }), count: Type.Integer() }, { additionalProperties: false }),
      response: { 201: Type.Object({ title: Type.String() }) }
    }
  }, async (request, reply) => {
    reply.code(201)
    return { title: request.body.title }
  })
  app.get('/probe/list', {
    config: { public: true },
    schema: { querystring: Type.Object({ limit: Type.Integer(), flag: Type.Boolean() }) }
  }, async (request) => request.query)
  // routes that take no body
  app.post('/probe/ping', { config: { public: true } }, async () => ({ pong: true }))
  app.delete('/probe/things/:id', { config: { public: true } }, async (_request, reply) => { reply.code(204) })
  app.get('/probe/boom', { config: { public: true } }, async () => {
    throw new Error('secret internals: password=hunter2 at db.ts:42')
  })
  // input that got past validation and that PostgreSQL refuses as data (SQLSTATE class 22); sent
  // as text and cast by the server, so that the server, not the driver, does the refusing
  const refusedByPostgres = new Map<string, (sql: typeof app.sql) => Promise<unknown>>([
    ['22008', async sql => await sql`select ${'0000-01-01T00:00:00.000Z'}::text::timestamptz`],
    ['22007', async sql => await sql`select ${'not a time'}::text::timestamptz`],
    ['22P02', async sql => await sql`select ${'not-a-uuid'}::text::uuid`],
    ['22003', async sql => await sql`select ${'99999999999'}::text::int4`],
    ['22012', async sql => await sql`select 1 / ${0}::int`]
  ])
  app.get('/probe/data-exception/:sqlstate', { config: { public: true } }, async (request) => {
    const { sqlstate } = request.params as { sqlstate: string }
    await refusedByPostgres.get(sqlstate)?.(app.sql)
    return { refused: false }
  })
}

const { app, logs } = await buildTestApp(t, { extraPlugins: [probe] })

function assertProblem (tt: Test, response: Awaited<ReturnType<typeof app.inject>>, status: number, code: string): Record<string, unknown> {
  tt.equal(response.statusCode, status, `status ${status}`)
  tt.match(response.headers['content-type'], /^application\/problem\+json/)
  const body = response.json() as Record<string, unknown>
  tt.equal(body.code, code)
  tt.equal(body.status, status)
  tt.type(body.title, 'string')
  tt.type(body.type, 'string')
  tt.equal(body.request_id, response.headers['x-request-id'], 'the body names the request id of the header')
  tt.match(body.request_id, /^[A-Za-z0-9._:-]{1,128}$/)
  return body
}

t.test('a valid request passes', async tt => {
  const response = await app.inject({ method: 'POST', url: '/probe/things', payload: { title: 'hello', count: 2 } })
  tt.equal(response.statusCode, 201)
  tt.same(response.json(), { title: 'hello' })
  tt.equal(response.headers['x-route'], 'POST /probe/things')
})

t.test('malformed JSON is 400 malformed_body', async tt => {
  const response = await app.inject({
    method: 'POST', url: '/probe/things', headers: { 'content-type': 'application/json' }, payload: '{"title": "x",'
  })
  assertProblem(tt, response, 400, 'malformed_body')
})

t.test('a body with __proto__ is rejected, not merged', async tt => {
  const response = await app.inject({
    method: 'POST',
    url: '/probe/things',
    headers: { 'content-type': 'application/json' },
    payload: '{"title":"x","count":1,"__proto__":{"polluted":true}}'
  })
  tt.equal(response.statusCode, 400)
  tt.equal(({} as Record<string, unknown>).polluted, undefined)
})

t.test('a wrong content type is 415 unsupported_media_type', async tt => {
  const response = await app.inject({
    method: 'POST', url: '/probe/things', headers: { 'content-type': 'application/xml' }, payload: '<title>x</title>'
  })
  assertProblem(tt, response, 415, 'unsupported_media_type')
})

t.test('only application/json reaches a JSON route: text/plain, +json types and other charsets are 415', async tt => {
  const json = '{"title":"x","count":1}'
  for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/merge-patch+json', 'application/problem+json', 'application/x-www-form-urlencoded', 'application/json; charset=iso-8859-1', 'application/json; charset=utf-16']) {
    const response = await app.inject({ method: 'POST', url: '/probe/things', headers: { 'content-type': type }, payload: json })
    tt.equal(response.statusCode, 415, `${type}: 415`)
    tt.equal(response.json().code, 'unsupported_media_type', `${type}: unsupported_media_type`)
  }
  const login = await app.inject({ method: 'POST', url: '/v1/auth/login', headers: { 'content-type': 'text/plain' }, payload: '{"email":"a@b.test","password":"whatever123"}' })
  assertProblem(tt, login, 415, 'unsupported_media_type')
  const ping = await app.inject({ method: 'POST', url: '/probe/ping', headers: { 'content-type': 'text/plain' }, payload: 'hello' })
  assertProblem(tt, ping, 415, 'unsupported_media_type')

  for (const type of ['application/json', 'application/json; charset=utf-8', 'Application/JSON; Charset="UTF-8"', 'application/json;charset=utf8']) {
    const response = await app.inject({ method: 'POST', url: '/probe/things', headers: { 'content-type': type }, payload: json })
    tt.equal(response.statusCode, 201, `${type}: taken`)
  }
})

t.test('a request without a body is not refused for its content type', async tt => {
  const get = await app.inject({ method: 'GET', url: '/healthz', headers: { 'content-type': 'text/plain' } })
  tt.equal(get.statusCode, 200, 'GET with a stray Content-Type')
  tt.same((await app.inject({ method: 'POST', url: '/probe/ping' })).json(), { pong: true }, 'POST without body or Content-Type')
  for (const type of ['text/plain', 'application/octet-stream']) {
    const post = await app.inject({ method: 'POST', url: '/probe/ping', headers: { 'content-type': type, 'content-length': '0' } })
    tt.equal(post.statusCode, 200, `POST, empty body labelled ${type}`)
    const del = await app.inject({ method: 'DELETE', url: '/probe/things/1', headers: { 'content-type': type } })
    tt.equal(del.statusCode, 204, `DELETE without a body, labelled ${type}`)
  }
})

t.test('a body over 1 MiB is 413 payload_too_large', async tt => {
  const response = await app.inject({
    method: 'POST',
    url: '/probe/things',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ title: 'x'.repeat(1_100_000), count: 1 })
  })
  assertProblem(tt, response, 413, 'payload_too_large')
})

t.test('an unknown route is 404 not_found without X-Route', async tt => {
  const response = await app.inject({ method: 'GET', url: '/no/such/route' })
  assertProblem(tt, response, 404, 'not_found')
  tt.equal(response.headers['x-route'], undefined)
})

t.test('a known path with a method it does not serve is 404 not_found', async tt => {
  const response = await app.inject({ method: 'DELETE', url: '/healthz' })
  assertProblem(tt, response, 404, 'not_found')
  tt.equal(response.headers['x-route'], undefined)
})

t.test('a schema violation is 400 validation_failed with field errors', async tt => {
  const missing = assertProblem(tt, await app.inject({ method: 'POST', url: '/probe/things', payload: { count: 1 } }), 400, 'validation_failed')
  tt.same(missing.errors, [{ path: '/title', message: "must have required property 'title'" }])
  tt.equal(
    (await app.inject({ method: 'POST', url: '/probe/things', payload: { title: 'x', count: 'many' } })).json().errors[0].path,
    '/count'
  )
})

t.test('a body field of the wrong JSON type is 400 validation_failed, never coerced; query strings still are', async tt => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['a number for a string', { title: 5, count: 1 }, '/title'],
    ['a boolean for a string', { title: true, count: 1 }, '/title'],
    ['an array for a string', { title: ['x'], count: 1 }, '/title'],
    ['null for a string', { title: null, count: 1 }, '/title'],
    ['a numeric string for an integer', { title: 'x', count: '2' }, '/count'],
    ['a boolean for an integer', { title: 'x', count: true }, '/count'],
    ['null for an integer', { title: 'x', count: null }, '/count']
  ]
  for (const [label, payload, path] of cases) {
    const body = assertProblem(tt, await app.inject({ method: 'POST', url: '/probe/things', payload }), 400, 'validation_failed')
    tt.equal((body.errors as Array<{ path: string }> | undefined)?.[0]?.path, path, `${label}: names ${path}`)
  }
  const listed = await app.inject({ method: 'GET', url: '/probe/list?limit=5&flag=true' })
  tt.same(listed.json(), { limit: 5, flag: true }, 'a query string is text: its numbers and booleans are read as such')
})

t.test('unknown body properties are rejected, not dropped', async tt => {
  const body = assertProblem(tt, await app.inject({
    method: 'POST', url: '/probe/things', payload: { title: 'x', count: 1, admin: true }
  }), 400, 'validation_failed')
  tt.same(body.errors, [{ path: '/admin', message: 'is not allowed' }])
})

t.test('a 500 hides its cause from the client and logs it', async tt => {
  const response = await app.inject({ method: 'GET', url: '/probe/boom' })
  const body = assertProblem(tt, response, 500, 'internal')
  tt.notMatch(response.body, /hunter2|db\.ts|secret internals/)
  tt.equal(body.detail, undefined)
  const logged = logs.find(l => l.request_id === body.request_id && l.level === 'error')
  tt.ok(logged, 'the failure is logged with the request id')
  tt.match(JSON.stringify(logged), /secret internals/)
})

t.test('a value PostgreSQL refuses as data (SQLSTATE class 22) is 400 validation_failed, not a 500', async tt => {
  for (const sqlstate of ['22008', '22007', '22P02', '22003', '22012']) {
    const response = await app.inject({ method: 'GET', url: `/probe/data-exception/${sqlstate}` })
    const body = assertProblem(tt, response, 400, 'validation_failed')
    tt.match(body.errors, [{ path: '/', message: String }], `${sqlstate}: a field problem`)
    tt.notMatch(response.body, /date\/time|timestamptz|invalid input syntax|int4|integer|division by zero|not a time|not-a-uuid|99999999999|0000-01-01/i, `${sqlstate}: nothing of PostgreSQL's message`)
    tt.notOk(logs.some(l => l.request_id === body.request_id && l.level === 'error'), `${sqlstate}: no error logged`)
  }
})

t.test('a sane incoming X-Request-Id is kept, an insane one replaced', async tt => {
  const kept = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc-123:x.y_z' } })
  tt.equal(kept.headers['x-request-id'], 'abc-123:x.y_z')
  const replaced = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'bad id<script>' } })
  tt.not(replaced.headers['x-request-id'], 'bad id<script>')
  tt.match(replaced.headers['x-request-id'], /^[A-Za-z0-9._:-]{1,128}$/)
  const tooLong = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'a'.repeat(129) } })
  tt.not(tooLong.headers['x-request-id'], 'a'.repeat(129))
})
