import t, { type Test } from 'tap'
import type { FastifyPluginAsync, LightMyRequestResponse } from 'fastify'
import { ConfigError, loadConfig } from '../src/config.ts'
import { MAX_QUERY_PARAMETERS } from '../src/http/querystring.ts'
import { buildTestApp } from './helpers/app.ts'
import { createTenant, relaxedAuthLimits } from './helpers/tenants.ts'
import { bearer, PASSWORD } from './helpers/users.ts'

const SECRET = 'sk_live_9f8e7d6c5b4a-do-not-leak'
const SQL = `insert into users (email, password_hash) values ('victim@example.test', '${SECRET}')`

/** Routes that misbehave on purpose: a leaky error, a real SQL error, a careless log line, the parsed query. */
const probes: FastifyPluginAsync = async (app) => {
  app.get('/probe/explode', { config: { public: true } }, async () => {
    throw new Error(`duplicate key value violates unique constraint "users_email_key": ${SQL}`)
  })
  app.get('/probe/sql', { config: { public: true } }, async () => {
    await app.sql.unsafe(`select '${SECRET}' as secret from a_table_that_does_not_exist`)
    return {}
  })
  app.post('/probe/careless-log', { config: { public: true } }, async (request) => {
    request.log.info({ headers: request.headers, body: request.body }, 'careless: logging the whole request')
    const { authorization } = request.headers
    request.log.info({ token: authorization?.slice(7), secret: SECRET, password: (request.body as { password?: string }).password }, 'careless: secrets by name')
    return { logged: true }
  })
  app.get('/probe/query', { config: { public: true } }, async (request) => ({ keys: Object.keys(request.query as object).length }))
}

const ORIGIN = 'https://app.example.test'
const { app, logs } = await buildTestApp(t, { env: { ...relaxedAuthLimits, CORS_ORIGINS: `${ORIGIN},https://admin.example.test` }, extraPlugins: [probes] })
const tenant = await createTenant(app)

function assertApiHeaders (tt: Test, response: LightMyRequestResponse, label: string): void {
  const hsts = String(response.headers['strict-transport-security'])
  const maxAge = Number(/max-age=(\d+)/.exec(hsts)?.[1])
  tt.ok(maxAge >= 31_536_000, `${label}: HSTS for a year or more (${hsts})`)
  tt.match(hsts, /includeSubDomains/, `${label}: HSTS covers subdomains`)
  tt.equal(response.headers['x-content-type-options'], 'nosniff', `${label}: nosniff`)
  tt.equal(response.headers['x-frame-options'], 'DENY', `${label}: X-Frame-Options DENY`)
  tt.equal(response.headers['referrer-policy'], 'no-referrer', `${label}: no referrer`)
  const csp = String(response.headers['content-security-policy'])
  tt.match(csp, /default-src 'none'/, `${label}: CSP default-src 'none'`)
  tt.match(csp, /frame-ancestors 'none'/, `${label}: CSP frame-ancestors 'none'`)
  tt.notMatch(csp, /unsafe/, `${label}: nothing unsafe in the CSP`)
}

t.test('API responses carry the security headers: success, error, 404, rate-limit-free public route', async tt => {
  const cases: Array<[string, Promise<LightMyRequestResponse>]> = [
    ['GET /healthz', app.inject({ method: 'GET', url: '/healthz' })],
    ['GET /v1/articles', app.inject({ method: 'GET', url: '/v1/articles', headers: bearer(tenant.viewer.token) })],
    ['401 /v1/me', app.inject({ method: 'GET', url: '/v1/me' })],
    ['400 validation', app.inject({ method: 'GET', url: '/v1/articles?limit=0', headers: bearer(tenant.viewer.token) })],
    ['404 unmatched', app.inject({ method: 'GET', url: '/nowhere' })],
    ['404 undecodable URL', app.inject({ method: 'GET', url: '/v1/articles/%E0%A4%A' })],
    ['500', app.inject({ method: 'GET', url: '/probe/explode' })],
    ['GET /openapi.json', app.inject({ method: 'GET', url: '/openapi.json' })]
  ]
  for (const [label, pending] of cases) assertApiHeaders(tt, await pending, label)
})

t.test('/docs has a CSP that lets swagger-ui load its own assets and nothing else', async tt => {
  const page = await app.inject({ method: 'GET', url: '/docs' })
  tt.equal(page.statusCode, 200)
  const csp = String(page.headers['content-security-policy'])
  tt.match(csp, /default-src 'none'/)
  tt.match(csp, /frame-ancestors 'none'/)
  tt.match(csp, /script-src 'self'(;|$)/, 'scripts from this origin only')
  tt.match(csp, /style-src 'self'(;|$)/, 'styles from this origin only')
  tt.match(csp, /connect-src 'self'(;|$)/, 'the spec is fetched from this origin')
  tt.notMatch(csp, /unsafe-inline|unsafe-eval|\*/, 'no inline script, no eval, no wildcard')
  tt.equal(page.headers['x-frame-options'], 'DENY')
  tt.equal(page.headers['x-content-type-options'], 'nosniff')
  tt.notMatch(page.body, /<script>|<style>|\son\w+=/i, 'no inline script, style or event handler the CSP would block')
  const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map(match => match[1]!)
  tt.ok(assets.length >= 4, `${assets.length} assets referenced`)
  for (const asset of assets) {
    tt.match(asset, /^\/docs\/static\//, `${asset} is served from /docs/static`)
    const response = await app.inject({ method: 'GET', url: asset })
    tt.equal(response.statusCode, 200, `${asset} is served`)
    tt.equal(response.headers['content-security-policy'], csp, `${asset} carries the docs CSP`)
  }
  // the rendering itself is checked in a real browser by test/openapi.test.ts
})

t.test('CORS: an allowed origin is echoed, errors included; another origin gets no CORS headers', async tt => {
  const allowed = await app.inject({ method: 'GET', url: '/v1/tenant', headers: { ...bearer(tenant.viewer.token), origin: ORIGIN } })
  tt.equal(allowed.statusCode, 200)
  tt.equal(allowed.headers['access-control-allow-origin'], ORIGIN)
  tt.match(String(allowed.headers.vary), /Origin/i, 'Vary: Origin, so caches keep the answers apart')
  tt.match(String(allowed.headers['access-control-expose-headers']), /x-request-id/)
  tt.equal(allowed.headers['access-control-allow-credentials'], undefined, 'bearer tokens, no cookies: no credentials mode')

  const unauthenticated = await app.inject({ method: 'GET', url: '/v1/me', headers: { origin: ORIGIN } })
  tt.equal(unauthenticated.statusCode, 401)
  tt.equal(unauthenticated.headers['access-control-allow-origin'], ORIGIN, 'a browser client can read its 401')

  for (const origin of ['https://evil.example.test', `${ORIGIN}.evil.test`, 'null', ORIGIN.replace('https', 'http')]) {
    const response = await app.inject({ method: 'GET', url: '/v1/tenant', headers: { ...bearer(tenant.viewer.token), origin } })
    tt.equal(response.headers['access-control-allow-origin'], undefined, `${origin}: not allowed`)
  }
})

t.test('CORS preflight: answered for an allowed origin before authentication; 404 for others', async tt => {
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/v1/articles',
    headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, x-tenant' }
  })
  tt.equal(preflight.statusCode, 204)
  tt.equal(preflight.headers['access-control-allow-origin'], ORIGIN)
  tt.match(String(preflight.headers['access-control-allow-methods']), /PATCH/)
  tt.match(String(preflight.headers['access-control-allow-methods']), /DELETE/)
  for (const header of ['authorization', 'content-type', 'x-tenant']) {
    tt.match(String(preflight.headers['access-control-allow-headers']), new RegExp(header), `allows ${header}`)
  }
  tt.ok(Number(preflight.headers['access-control-max-age']) > 0, 'browsers may cache it')

  const refused = await app.inject({ method: 'OPTIONS', url: '/v1/articles', headers: { origin: 'https://evil.example.test', 'access-control-request-method': 'POST' } })
  tt.equal(refused.statusCode, 404)
  tt.match(refused.headers['content-type'], /^application\/problem\+json/)
  tt.equal(refused.headers['access-control-allow-origin'], undefined)
  tt.equal((await app.inject({ method: 'OPTIONS', url: '/v1/articles' })).statusCode, 404, 'an OPTIONS without Origin is no preflight')
})

t.test('CORS off (CORS_ORIGINS empty, the default): no CORS headers, OPTIONS is 404', async tt => {
  const { app: closed } = await buildTestApp(tt)
  const response = await closed.inject({ method: 'GET', url: '/healthz', headers: { origin: ORIGIN } })
  tt.equal(response.headers['access-control-allow-origin'], undefined)
  const preflight = await closed.inject({ method: 'OPTIONS', url: '/v1/articles', headers: { origin: ORIGIN, 'access-control-request-method': 'POST' } })
  tt.equal(preflight.statusCode, 404)
  tt.equal(preflight.json().code, 'not_found')
})

t.test('CORS_ORIGINS must name origins, not URLs', async tt => {
  const corsOrigins = (setting: string) => loadConfig({ NODE_ENV: 'test', CORS_ORIGINS: setting }, '/nonexistent/.env').corsOrigins
  for (const bad of ['https://app.example.test/', 'https://app.example.test/path', 'app.example.test', '*']) {
    tt.throws(() => corsOrigins(bad), ConfigError, `${bad} is refused at start-up`)
  }
  tt.same([...corsOrigins('https://a.example.test, http://localhost:5173')], ['https://a.example.test', 'http://localhost:5173'])
  tt.equal(corsOrigins('').size, 0, 'empty: CORS off')
})

t.test('Cache-Control: no-store on every /v1/auth and /v1/me route, whatever the answer', async tt => {
  const isSensitive = (url: string) => ['/v1/auth', '/v1/me'].some(folder => url === folder || url.startsWith(`${folder}/`))
  const sensitive = app.routeTable.filter(r => r.method !== 'HEAD' && isSensitive(r.url))
  tt.ok(sensitive.length >= 5, `${sensitive.length} sensitive routes`)
  for (const route of sensitive) {
    const url = route.url.replace(/:\w+/g, '01890a5d-ac96-774b-bcce-b302099a8057')
    for (const headers of [{}, bearer(tenant.viewer.token)]) {
      const response = await app.inject({ method: route.method as 'GET', url, headers, ...(route.method === 'GET' || route.method === 'DELETE' ? {} : { payload: {} }) })
      tt.equal(response.headers['cache-control'], 'no-store', `${route.method} ${route.url} → ${response.statusCode}: no-store`)
    }
  }
  const login = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: tenant.viewer.email, password: PASSWORD } })
  tt.equal(login.statusCode, 200)
  tt.equal(login.headers['cache-control'], 'no-store', 'a token pair is never cached')
  const me = await app.inject({ method: 'GET', url: '/v1/me', headers: bearer(tenant.viewer.token) })
  tt.equal(me.statusCode, 200)
  tt.equal(me.headers['cache-control'], 'no-store')
})

t.test('no stack trace, SQL or secret reaches a client', async tt => {
  for (const url of ['/probe/explode', '/probe/sql']) {
    const response = await app.inject({ method: 'GET', url })
    tt.equal(response.statusCode, 500, url)
    tt.match(response.headers['content-type'], /^application\/problem\+json/)
    const body = response.json()
    tt.equal(body.code, 'internal')
    tt.equal(body.detail, undefined, 'a 500 says nothing of its cause')
    for (const leak of [SECRET, 'insert into', 'select', 'a_table_that_does_not_exist', 'users_email_key', '    at ', '.ts:', 'node_modules', 'PostgresError']) {
      tt.notOk(response.body.includes(leak), `${url}: the body does not contain ${JSON.stringify(leak)}`)
    }
  }
  const errorLines = logs.filter(line => line.level === 'error')
  tt.ok(errorLines.some(line => line.request_id !== undefined), 'operators still get the error, with its request id, in the log')
})

t.test('pino redaction: no password, token or Authorization value in any log line', async tt => {
  const from = logs.length
  const login = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: tenant.editor.email, password: PASSWORD, tenant: tenant.slug } })
  tt.equal(login.statusCode, 200)
  const { access_token: accessToken, refresh_token: refreshToken } = login.json()
  await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: tenant.editor.email, password: `${PASSWORD}-wrong` } })
  await app.inject({ method: 'POST', url: '/v1/auth/login', headers: { 'content-type': 'application/json' }, payload: `{"email":"${tenant.editor.email}","password":"${PASSWORD}" !}` })
  await app.inject({ method: 'GET', url: '/v1/articles', headers: bearer(accessToken) })
  await app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${accessToken}x` } })
  await app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refresh_token: refreshToken } })
  const careless = await app.inject({
    method: 'POST',
    url: '/probe/careless-log',
    headers: { ...bearer(accessToken), cookie: `session=${SECRET}` },
    payload: { email: tenant.editor.email, password: PASSWORD, refresh_token: refreshToken }
  })
  tt.equal(careless.statusCode, 200)

  const lines = logs.slice(from)
  tt.ok(lines.length >= 7, `${lines.length} log lines written`)
  const text = JSON.stringify(lines)
  for (const [name, secret] of [['password', PASSWORD], ['access token', accessToken], ['refresh token', refreshToken], ['cookie', SECRET]] as const) {
    tt.notOk(text.includes(secret), `no log line contains the ${name}`)
  }
  tt.notOk(text.includes(accessToken.split('.')[2]), 'not even the signature part of the token')
  const carelessLine = lines.find(line => line.msg === 'careless: logging the whole request') as { headers: Record<string, unknown>, body: Record<string, unknown> }
  tt.equal(carelessLine.headers.authorization, '[redacted]', 'a logged Authorization header is redacted')
  tt.equal(carelessLine.headers.cookie, '[redacted]')
  tt.same([carelessLine.body.password, carelessLine.body.refresh_token], ['[redacted]', '[redacted]'], 'a logged body\'s password and refresh token are redacted')
  tt.equal(carelessLine.body.email, tenant.editor.email, 'the rest of the line is kept')
  const named = lines.find(line => line.msg === 'careless: secrets by name')
  tt.same([named?.token, named?.secret, named?.password], ['[redacted]', '[redacted]', '[redacted]'], 'fields named token, secret or password are redacted')
})

t.test('limits: a body over 1 MiB is 413; a query string is read up to its first 100 parameters', async tt => {
  const big = await app.inject({ method: 'POST', url: '/v1/articles', headers: bearer(tenant.editor.token), payload: { title: 'big', body: 'x'.repeat(1_048_577) } })
  tt.equal(big.statusCode, 413)
  tt.match(big.headers['content-type'], /^application\/problem\+json/)
  tt.equal(big.json().code, 'payload_too_large')

  const many = Array.from({ length: 10_000 }, (_, i) => `p${i}=${i}`).join('&')
  const counted = await app.inject({ method: 'GET', url: `/probe/query?${many}` })
  tt.same(counted.json(), { keys: MAX_QUERY_PARAMETERS }, `10,000 parameters: the first ${MAX_QUERY_PARAMETERS} are read, the rest ignored`)
  const list = await app.inject({ method: 'GET', url: `/v1/articles?limit=1&${many}`, headers: bearer(tenant.viewer.token) })
  tt.equal(list.statusCode, 200, 'a route with 10,000 parameters still answers')
  const repeated = await app.inject({ method: 'GET', url: `/v1/articles?${Array.from({ length: 10_000 }, () => 'limit=1').join('&')}`, headers: bearer(tenant.viewer.token) })
  tt.equal(repeated.statusCode, 400, 'one parameter given 10,000 times is a list, refused by the schema')
  tt.equal(repeated.json().code, 'validation_failed')
  const polluted = await app.inject({ method: 'GET', url: '/probe/query?__proto__=1&constructor=2&toString=3' })
  tt.same(polluted.json(), { keys: 3 }, '__proto__ in a query string is a key like any other')
  tt.equal(({} as Record<string, unknown>).constructor, Object)
})

t.test('a path the router cannot read is 404 problem+json, not Fastify\'s own error shape', async tt => {
  for (const url of ['/v1/articles/%E0%A4%A', `/v1/articles/${'x'.repeat(101)}`, '/v1/members/%zz']) {
    const response = await app.inject({ method: 'GET', url, headers: bearer(tenant.viewer.token) })
    tt.equal(response.statusCode, 404, url)
    tt.match(response.headers['content-type'], /^application\/problem\+json/, url)
    tt.equal(response.json().code, 'not_found', url)
    tt.ok(response.headers['x-request-id'], `${url}: still has a request id`)
  }
})
