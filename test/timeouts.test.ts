import t, { type Test } from 'tap'
import type { FastifyPluginAsync } from 'fastify'
import { createSql } from '../src/platform/db/client.ts'
import { buildTestApp } from './helpers/app.ts'

// Probe routes that do what a slow production route would, through the real data path.
const probes: FastifyPluginAsync = async (app) => {
  app.get('/probe/sleep', { config: { public: true, timeout: 200 } }, async () => {
    await app.db.read('sleep', null, sql => sql`select pg_sleep(10)`)
    return { slept: true }
  })
  app.get('/probe/nap', { config: { public: true, timeout: 3_000 } }, async () => {
    await app.db.read('nap', null, sql => sql`select pg_sleep(1)`)
    return { napped: true }
  })
  app.get('/probe/quick', { config: { public: true, timeout: 300 } }, async () => {
    const [row] = await app.db.read('quick', null, sql => sql<Array<{ one: number }>>`select 1 as one`)
    return { one: row?.one }
  })
  app.post('/probe/touch-tenant/:id', { config: { public: true, timeout: 300 } }, async (request) => {
    const { id } = request.params as { id: string }
    await app.db.transaction(null, tx => tx`update tenants set name = name where id = ${id}`)
    return { touched: true }
  })
  app.get('/probe/block', { config: { public: true } }, async () => {
    const until = Date.now() + 1_500
    while (Date.now() < until) { /* hold the event loop, as a runaway computation would */ }
    return { blocked: true }
  })
}

function assertTimeout (tt: Test, response: { statusCode: number, headers: Record<string, unknown>, json: () => unknown }): void {
  tt.equal(response.statusCode, 503)
  tt.equal((response.json() as { code: string }).code, 'timeout')
  tt.ok(Number(response.headers['retry-after']) > 0, 'Retry-After is set')
}

t.test('a query over its budget is cancelled: 503 timeout well under a second, and the pool stays healthy', async tt => {
  const { app, logs } = await buildTestApp(tt, { extraPlugins: [probes], env: { DATABASE_POOL_MAX: '2' } })
  const started = Date.now()
  const response = await app.inject({ method: 'GET', url: '/probe/sleep' })
  const elapsed = Date.now() - started
  assertTimeout(tt, response)
  tt.ok(elapsed < 1_000, `answered in ${elapsed} ms`)
  const requestId = response.headers['x-request-id']
  tt.ok(logs.some(l => l.request_id === requestId && l.route === 'GET /probe/sleep' && l.status === 503), 'logged with request id and route')
  const after: number[] = []
  for (let i = 0; i < 50; i++) after.push((await app.inject({ method: 'GET', url: '/probe/quick' })).statusCode)
  tt.same(after, Array(50).fill(200), 'the next 50 requests succeed on the same pool')
})

t.test('a transaction waiting on a row lock answers 503 timeout', async tt => {
  const { app, db } = await buildTestApp(tt, { extraPlugins: [probes] })
  const owner = createSql(db.ownerUrl, { max: 1 })
  tt.teardown(() => owner.end())
  const [tenant] = await owner<Array<{ id: string }>>`insert into tenants (slug, name) values ('locked', 'Locked') returning id`
  const lockHolder = await owner.reserve()
  await lockHolder`begin`
  await lockHolder`select 1 from tenants where id = ${tenant!.id} for update`
  try {
    const started = Date.now()
    const response = await app.inject({ method: 'POST', url: `/probe/touch-tenant/${tenant!.id}` })
    assertTimeout(tt, response)
    tt.ok(Date.now() - started < 1_000, 'inside its budget')
  } finally {
    await lockHolder`rollback`
    lockHolder.release()
  }
  const response = await app.inject({ method: 'POST', url: `/probe/touch-tenant/${tenant!.id}` })
  tt.equal(response.statusCode, 200, 'the same write succeeds once the lock is gone')
})

t.test('with the pool exhausted, a further request answers 503 inside its budget instead of hanging', async tt => {
  const { app } = await buildTestApp(tt, { extraPlugins: [probes], env: { DATABASE_POOL_MAX: '2' } })
  const slow = [app.inject({ method: 'GET', url: '/probe/nap' }), app.inject({ method: 'GET', url: '/probe/nap' })]
  await new Promise(resolve => setTimeout(resolve, 150))
  const started = Date.now()
  const read = await app.inject({ method: 'GET', url: '/probe/quick' })
  const readElapsed = Date.now() - started
  assertTimeout(tt, read)
  tt.ok(readElapsed < 700, `a read waiting for a connection gave up after ${readElapsed} ms (budget 300)`)
  const writeStarted = Date.now()
  const write = await app.inject({ method: 'POST', url: '/probe/touch-tenant/00000000-0000-7000-8000-000000000000' })
  assertTimeout(tt, write)
  tt.ok(Date.now() - writeStarted < 700, 'a transaction waiting for a connection gives up inside its budget too')
  tt.same((await Promise.all(slow)).map(r => r.statusCode), [200, 200], 'the slow requests themselves complete')
  tt.equal((await app.inject({ method: 'GET', url: '/probe/quick' })).statusCode, 200, 'and the pool serves again')
})

t.test('a blocked event loop sheds load with 503 unavailable while /healthz answers', async tt => {
  const { app } = await buildTestApp(tt, { extraPlugins: [probes], env: { MAX_EVENT_LOOP_DELAY_MS: '200' } })
  // keep the loop blocked in bursts, as a runaway computation would, for the whole check
  const hold = () => { const until = Date.now() + 400; while (Date.now() < until) { /* busy */ } }
  const blocker = setInterval(hold, 450)
  tt.teardown(() => clearInterval(blocker))
  await app.inject({ method: 'GET', url: '/probe/block' })
  let shed: Awaited<ReturnType<typeof app.inject>> | undefined
  for (let attempt = 0; attempt < 40 && shed === undefined; attempt++) {
    await new Promise(resolve => setTimeout(resolve, 50))
    const response = await app.inject({ method: 'GET', url: '/probe/quick' })
    if (response.statusCode === 503) shed = response
  }
  tt.ok(shed, 'a request is shed while the loop is blocked')
  tt.equal(shed?.json().code, 'unavailable')
  tt.ok(Number(shed?.headers['retry-after']) > 0, 'with Retry-After')
  tt.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, '/healthz still answers 200')
  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  tt.equal(ready.statusCode, 503, '/readyz reports the pressure')
  tt.equal(ready.json().overloaded, true)
  clearInterval(blocker)
})
