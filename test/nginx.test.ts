import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import type { FastifyPluginAsync } from 'fastify'
import { buildTestApp } from './helpers/app.ts'
import { findNginx, httpGet, startNginx, type NginxAccessEntry, type RunningNginx } from './helpers/nginx.ts'
import { waitFor } from './helpers/wait.ts'

const nginxBinary = findNginx()

if (nginxBinary === undefined) {
  t.plan(0, 'nginx is not installed (apt-get install nginx; .ci/run installs it): end-to-end proxy test skipped')
} else {
  // what the app received of the W3C trace context headers
  const traceHeaders: FastifyPluginAsync = async (probeApp) => {
    probeApp.get('/probe/trace-headers', { config: { public: true } }, async request => ({
      traceparent: request.headers.traceparent ?? null,
      tracestate: request.headers.tracestate ?? null
    }))
  }
  const { app, logs } = await buildTestApp(t, { extraPlugins: [traceHeaders] })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const nginx = await startNginx(t, nginxBinary, (app.server.address() as AddressInfo).port)

  /** The one nginx access-log line and the one app access-log line carrying `id`. */
  async function linesFor (tt: Test, id: string, proxy: RunningNginx): Promise<{ edge: NginxAccessEntry, app: Record<string, unknown> }> {
    const edge = await waitFor(`nginx's access-log line for ${id}`, async () => {
      const entries = (await proxy.accessLog()).filter(entry => entry.request_id === id)
      return entries.length > 0 ? entries : undefined
    })
    tt.equal(edge.length, 1, 'nginx logged the request once under this id')
    const appLines = await waitFor(`the app's access-log line for ${id}`, () => {
      const lines = logs.filter(line => line.msg === 'request' && line.request_id === id)
      return lines.length > 0 ? lines : undefined
    })
    tt.equal(appLines.length, 1, 'the app logged the request once under this id')
    return { edge: edge[0] as NginxAccessEntry, app: appLines[0] as Record<string, unknown> }
  }

  function assertReadyzLines (tt: Test, lines: { edge: NginxAccessEntry, app: Record<string, unknown> }): void {
    tt.equal(lines.edge.method, 'GET')
    tt.equal(lines.edge.uri, '/readyz')
    tt.equal(lines.edge.status, 200)
    tt.equal(lines.edge.route, 'GET /readyz', "nginx logs the route from the app's X-Route")
    tt.equal(lines.edge.upstream_status, '200')
    tt.match(lines.edge.upstream_response_time, /^\d+\.\d{3}$/, 'the upstream time is logged')
    tt.equal(lines.app.route, 'GET /readyz')
    tt.equal(lines.app.status, 200)
  }

  t.test('without an incoming X-Request-Id, nginx makes one that the response and both logs share', async tt => {
    const response = await httpGet(`${nginx.url}/readyz`)
    tt.equal(response.status, 200)
    tt.equal(response.headers['x-route'], 'GET /readyz')
    const id = response.headers['x-request-id']
    if (typeof id !== 'string') throw new Error('no X-Request-Id on the response')
    tt.match(id, /^[0-9a-f]{32}$/, "the id is nginx's own $request_id, not one the app generated")
    const lines = await linesFor(tt, id, nginx)
    assertReadyzLines(tt, lines)
  })

  t.test('a sane incoming X-Request-Id is kept end to end', async tt => {
    const incoming = `client:${randomBytes(6).toString('hex')}.trace_A-1`
    const response = await httpGet(`${nginx.url}/readyz`, { 'x-request-id': incoming })
    tt.equal(response.status, 200)
    tt.equal(response.headers['x-request-id'], incoming)
    assertReadyzLines(tt, await linesFor(tt, incoming, nginx))
  })

  t.test('an incoming id the app would refuse is replaced by nginx, and app and nginx still agree', async tt => {
    const incoming = `not sane <${randomBytes(4).toString('hex')}>`
    const response = await httpGet(`${nginx.url}/readyz`, { 'x-request-id': incoming })
    tt.equal(response.status, 200)
    const id = response.headers['x-request-id']
    if (typeof id !== 'string') throw new Error('no X-Request-Id on the response')
    tt.match(id, /^[0-9a-f]{32}$/)
    assertReadyzLines(tt, await linesFor(tt, id, nginx))
    tt.notOk((await nginx.accessLog()).some(entry => entry.request_id.includes(incoming)), 'nginx never logs the refused id')
  })

  t.test('traceparent and tracestate reach the app as sent; both access lines carry the trace', async tt => {
    const traceId = randomBytes(16).toString('hex')
    const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`
    const tracestate = 'vendor=opaque,other=value'
    const response = await httpGet(`${nginx.url}/probe/trace-headers`, { traceparent, tracestate })
    tt.equal(response.status, 200)
    tt.same(JSON.parse(response.body), { traceparent, tracestate }, 'the app got both headers unchanged')
    const id = response.headers['x-request-id'] as string
    const lines = await linesFor(tt, id, nginx)
    tt.equal(lines.edge.traceparent, traceparent, 'nginx logs the incoming traceparent')
    tt.equal(lines.app.trace_id, traceId, 'the app logs its trace id')

    const bare = await httpGet(`${nginx.url}/probe/trace-headers`)
    tt.same(JSON.parse(bare.body), { traceparent: null, tracestate: null }, 'absent headers stay absent (not sent empty)')
  })

  t.test('/metrics is not served to the public through nginx', async tt => {
    const response = await httpGet(`${nginx.url}/metrics`)
    tt.equal(response.status, 404)
    tt.match(response.headers['content-type'], /^application\/problem\+json/)
    tt.equal(JSON.parse(response.body).code, 'not_found')
  })

  // last: it spends this client's (127.0.0.1's) request budget
  t.test('a client over the per-client rate gets 429 rate_limited from nginx', async tt => {
    // 150 at once: the budget (a burst of 50, refilled at 20 a second) runs out unless they take over 5 s
    const responses = await Promise.all(Array.from({ length: 150 }, async () => await httpGet(`${nginx.url}/healthz`)))
    const limited = responses.filter(response => response.status === 429)
    tt.ok(limited.length > 0, `${limited.length} of 150 requests were limited`)
    tt.ok(responses.every(response => response.status === 200 || response.status === 429), 'every other request was served')
    const first = limited[0]
    if (first === undefined) return
    tt.match(first.headers['content-type'], /^application\/problem\+json/)
    tt.equal(first.headers['retry-after'], '1')
    const body = JSON.parse(first.body) as Record<string, unknown>
    tt.equal(body.code, 'rate_limited')
    tt.equal(body.status, 429)
    tt.equal(body.request_id, first.headers['x-request-id'])
    const id = String(body.request_id)
    const logged = await waitFor('the 429 in the access log', async () => (await nginx.accessLog()).find(entry => entry.request_id === id))
    tt.equal(logged.status, 429)
    tt.equal(logged.route, '', 'no route: the app never saw it')
    tt.notOk(logs.some(line => line.request_id === id), 'the app never saw it')
  })
}
