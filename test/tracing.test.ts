import t from 'tap'
import type { FastifyPluginAsync } from 'fastify'
import { createSql } from '../src/platform/db/client.ts'
import { buildTestApp } from './helpers/app.ts'
import { createTenant, relaxedAuthLimits } from './helpers/tenants.ts'
import { bearer } from './helpers/users.ts'

// A probe that runs a slow query through the real data path, and one that logs from a depth
// where no request object is in reach (as a service would).
const probes: FastifyPluginAsync = async (app) => {
  app.get('/probe/slow-query', { config: { public: true, timeout: 5_000 } }, async () => {
    await app.db.transaction(null, tx => tx`select pg_sleep(1.2)`)
    return { done: true }
  })
  app.get('/probe/tenant-slow-query', { config: { tenant: true, permission: 'member', timeout: 5_000 } }, async (request) => {
    await app.db.transaction(request.tenant!.id, tx => tx`select pg_sleep(0.6)`)
    return { done: true }
  })
}

const { app, logs, db } = await buildTestApp(t, { extraPlugins: [probes], env: { ...relaxedAuthLimits, SLOW_QUERY_MS: '500' } })
const tenant = await createTenant(app)
const owner = createSql(db.ownerUrl, { max: 1 })
t.teardown(() => owner.end())

t.test('pg_stat_activity shows the request id while its slow query runs', async tt => {
  const requestId = `trace-${Date.now()}`
  const pending = app.inject({ method: 'GET', url: '/probe/slow-query', headers: { 'x-request-id': requestId } })
  let seen: string | undefined
  for (let i = 0; i < 40 && seen === undefined; i++) {
    await new Promise(resolve => setTimeout(resolve, 50))
    const [row] = await owner<Array<{ application_name: string }>>`
      select application_name from pg_stat_activity where query like '%pg_sleep(1.2)%' and pid <> pg_backend_pid()`
    seen = row?.application_name
  }
  const response = await pending
  tt.equal(response.statusCode, 200)
  tt.equal(seen, `atrium ${requestId} GET /probe/slow-query`, 'application_name names the request id and route')
  const slow = logs.find(l => l.msg === 'slow query' && l.request_id === requestId)
  tt.ok(slow, 'the slow query is logged with the request id')
  tt.ok(Number(slow?.duration_ms) >= 1_000, 'with its duration')
  tt.notOk(JSON.stringify(slow).includes('pg_sleep'), 'and without its parameters or text')
})

t.test('a line logged below the hooks (the database layer) carries request_id, tenant_id and user_id', async tt => {
  const response = await app.inject({ method: 'GET', url: '/probe/tenant-slow-query', headers: { ...bearer(tenant.viewer.token), 'x-request-id': 'deep-tenant-1' } })
  tt.equal(response.statusCode, 200)
  const line = logs.find(l => l.msg === 'slow query' && l.request_id === 'deep-tenant-1')
  tt.ok(line, 'the data path logged the slow statement')
  tt.equal(line?.tenant_id, tenant.id, 'with the tenant')
  tt.equal(line?.user_id, tenant.viewer.id, 'and the user')
  tt.equal(line?.statement, 'transaction')
  const accessLine = logs.find(l => l.request_id === 'deep-tenant-1' && l.msg === 'request')
  tt.equal(accessLine?.tenant_id, tenant.id, 'the access line names the tenant')
  tt.equal(accessLine?.route, 'GET /probe/tenant-slow-query')
})

t.test('every line logged during a request carries its context, from any depth', async tt => {
  const probeLog: FastifyPluginAsync = async (probeApp) => {
    probeApp.get('/probe/deep-log', { config: { public: true } }, async () => {
      await new Promise(resolve => setTimeout(resolve, 5))
      await Promise.resolve().then(() => probeApp.log.info({ depth: 'service' }, 'deep work'))
      return { ok: true }
    })
  }
  const second = await buildTestApp(tt, { extraPlugins: [probeLog] })
  const response = await second.app.inject({ method: 'GET', url: '/probe/deep-log', headers: { 'x-request-id': 'deep-1' } })
  tt.equal(response.statusCode, 200)
  const line = second.logs.find(l => l.msg === 'deep work')
  tt.equal(line?.request_id, 'deep-1')
})

t.test('a traceparent header puts its trace id in the logs', async tt => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
  const response = await app.inject({ method: 'GET', url: '/healthz', headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } })
  const line = logs.find(l => l.request_id === response.headers['x-request-id'] && l.msg === 'request')
  tt.equal(line?.trace_id, traceId)
})
