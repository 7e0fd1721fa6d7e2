import t, { type Test } from 'tap'
import { createHmac, randomBytes, randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { createSigner } from 'fast-jwt'
import type { LightMyRequestResponse } from 'fastify'
import { keyIdOf } from '../../../src/features/auth/tokens.ts'
import { splitList } from '../../../src/config.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { createTenant, relaxedAuthLimits } from '../../helpers/tenants.ts'
import { bearer, login, PASSWORD, registerUser } from '../../helpers/users.ts'

/**
 * What an attacker tries against authentication, and what it gets: brute force meets the rate
 * limits (defaults: 10 a minute per IP, 5 per email), tokens used where they do not belong,
 * replayed and forged are refused, and login time does not tell which emails have accounts.
 */

function assertProblem (tt: Test, response: LightMyRequestResponse, status: number, code: string, label = code): void {
  tt.equal(response.statusCode, status, `${label}: ${status}`)
  tt.match(response.headers['content-type'], /^application\/problem\+json/, `${label}: problem+json`)
  tt.equal(response.json().code, code, `${label}: ${code}`)
}

const withoutRequestId = (response: LightMyRequestResponse) => {
  const { request_id: _requestId, ...rest } = response.json() as Record<string, unknown>
  return rest
}

// the remaining attacks need many logins from one address: limits out of the way
const { app, config } = await buildTestApp(t, { env: relaxedAuthLimits })
const a = await createTenant(app)
const b = await createTenant(app)
const secret = splitList(config.JWT_SECRETS)[0]!

const me = (headers: Record<string, string>) => app.inject({ method: 'GET', url: '/v1/me', headers })
const refresh = (token: string) => app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refresh_token: token } })

// every top-level await above runs before the first t.test: tap may end a file whose setup awaits after one
t.test('brute force, with the default limits', async tt => {
  const { app } = await buildTestApp(tt)
  const victim = await registerUser(app)
  const attempt = (ip: string, email: string, password = `guess-${randomBytes(4).toString('hex')}`) =>
    app.inject({ method: 'POST', url: '/v1/auth/login', remoteAddress: ip, payload: { email, password } })

  tt.test('one account, passwords from many addresses: the 6th attempt within a minute is 429', async ttt => {
    for (let i = 1; i <= 5; i++) assertProblem(ttt, await attempt(`10.20.0.${i}`, victim.email), 401, 'unauthenticated', `guess ${i}`)
    const limited = await attempt('10.20.0.6', victim.email.toUpperCase())
    assertProblem(ttt, limited, 429, 'rate_limited', 'guess 6, another address, the email in capitals')
    const retryAfter = Number(limited.headers['retry-after'])
    ttt.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${String(limited.headers['retry-after'])}`)
    assertProblem(ttt, await attempt('10.20.0.7', victim.email, victim.password), 429, 'rate_limited', 'even the right password')
  })

  tt.test('one address, many accounts (spraying): the 11th attempt within a minute is 429', async ttt => {
    for (let i = 1; i <= 10; i++) assertProblem(ttt, await attempt('10.30.0.1', `sprayed-${i}-${randomBytes(3).toString('hex')}@example.test`), 401, 'unauthenticated', `account ${i}`)
    const limited = await attempt('10.30.0.1', 'sprayed-11@example.test')
    assertProblem(ttt, limited, 429, 'rate_limited', 'account 11')
    ttt.ok(Number(limited.headers['retry-after']) >= 1, 'with Retry-After')
    assertProblem(ttt, await attempt('10.30.0.2', 'sprayed-12@example.test'), 401, 'unauthenticated', 'another address is not limited')
  })
})

t.test('token confusion: a refresh token is no access token, and the other way round', async tt => {
  const pair = await login(app, a.editor.email, PASSWORD, a.slug)
  assertProblem(tt, await me(bearer(pair.refresh_token)), 401, 'unauthenticated', 'refresh token as bearer on /v1/me')
  assertProblem(tt, await app.inject({ method: 'GET', url: '/v1/articles', headers: bearer(pair.refresh_token) }), 401, 'unauthenticated', 'refresh token as bearer on a tenant route')
  assertProblem(tt, await refresh(pair.access_token), 401, 'unauthenticated', 'access token as refresh token')
  tt.equal((await refresh(pair.refresh_token)).statusCode, 200, 'the refresh token still works where it belongs')
})

t.test('a token bound to tenant A does not open tenant B, whose member the user is not', async tt => {
  const viaHeader = await app.inject({ method: 'GET', url: '/v1/articles', headers: { ...bearer(a.editor.token), 'x-tenant': b.slug } })
  assertProblem(tt, viaHeader, 404, 'tenant_not_found', 'X-Tenant: B by slug')
  assertProblem(tt, await app.inject({ method: 'GET', url: '/v1/members', headers: { ...bearer(a.owner.token), 'x-tenant': b.id } }), 404, 'tenant_not_found', 'X-Tenant: B by id, as A\'s owner')
  const viaHost = await app.inject({ method: 'GET', url: '/v1/tenant', headers: { ...bearer(a.editor.token), host: `${b.slug}.${config.BASE_DOMAIN}` } })
  assertProblem(tt, viaHost, 404, 'tenant_not_found', 'B\'s subdomain')
  const unknown = await app.inject({ method: 'GET', url: '/v1/articles', headers: { ...bearer(a.editor.token), 'x-tenant': `no-such-${randomBytes(3).toString('hex')}` } })
  tt.same(withoutRequestId(viaHeader), { ...withoutRequestId(unknown), instance: withoutRequestId(viaHeader).instance }, 'the same answer as for a tenant that does not exist')
  tt.equal((await app.inject({ method: 'GET', url: '/v1/articles', headers: bearer(a.editor.token) })).statusCode, 200, 'while A works')
})

t.test('a removed member\'s token, still bound to the tenant and unexpired, no longer opens it', async tt => {
  const leaving = await login(app, a.viewer.email, PASSWORD, a.slug)
  tt.equal((await app.inject({ method: 'GET', url: '/v1/tenant', headers: bearer(leaving.access_token) })).statusCode, 200, 'a member before')
  const removed = await app.inject({ method: 'DELETE', url: `/v1/members/${a.viewer.id}`, headers: bearer(a.owner.token) })
  tt.equal(removed.statusCode, 204)
  assertProblem(tt, await app.inject({ method: 'GET', url: '/v1/tenant', headers: bearer(leaving.access_token) }), 404, 'tenant_not_found', 'after removal')
})

t.test('a replayed refresh token revokes its family: the thief and the victim both lose it', async tt => {
  const user = await registerUser(app)
  const stolen = await login(app, user.email, user.password)
  const rotated = (await refresh(stolen.refresh_token)).json()
  // the victim refreshes on: the stolen token's successor is spent, so the two-tab grace cannot answer the replay
  const newest = (await refresh(rotated.refresh_token)).json()
  assertProblem(tt, await refresh(stolen.refresh_token), 401, 'unauthenticated', 'the replay')
  assertProblem(tt, await refresh(newest.refresh_token), 401, 'unauthenticated', 'the newest token of the family')
  assertProblem(tt, await refresh(stolen.refresh_token), 401, 'unauthenticated', 'a second replay')
  tt.equal((await login(app, user.email, user.password)).token_type, 'Bearer', 'the user can sign in again')
})

t.test('forged access tokens are 401 unauthenticated', async tt => {
  const good = (await login(app, a.owner.email, PASSWORD, a.slug)).access_token
  const [header, payload, signature] = good.split('.') as [string, string, string]
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>
  const kid = keyIdOf(secret)
  const hs256 = (key: string, head: object, body: object) => {
    const unsigned = `${encode(head)}.${encode(body)}`
    return `${unsigned}.${createHmac('sha256', key).update(unsigned).digest('base64url')}`
  }
  const wrongKey = `attacker-${randomBytes(16).toString('hex')}`
  const forged: Array<[string, string]> = [
    ['alg none', `${encode({ alg: 'none', typ: 'JWT', kid })}.${payload}.`],
    ['alg none, signature kept', `${encode({ alg: 'none', typ: 'JWT', kid })}.${payload}.${signature}`],
    ['alg "None"', `${encode({ alg: 'None', typ: 'JWT', kid })}.${payload}.`],
    ['HS512 with the real secret', createSigner({ key: secret, algorithm: 'HS512', kid, expiresIn: 60_000 })({ sub: a.owner.id, jti: randomUUID(), tid: a.id })],
    ['HS384 with the real secret', createSigner({ key: secret, algorithm: 'HS384', kid, expiresIn: 60_000 })({ sub: a.owner.id, jti: randomUUID() })],
    ['RS256 header on an HMAC signature', `${encode({ alg: 'RS256', typ: 'JWT', kid })}.${payload}.${signature}`],
    ['wrong key, our kid', createSigner({ key: wrongKey, kid, expiresIn: 60_000 })({ sub: a.owner.id, jti: randomUUID(), tid: a.id })],
    ['wrong key, no kid', createSigner({ key: wrongKey, expiresIn: 60_000 })({ sub: a.owner.id, jti: randomUUID() })],
    ['embedded attacker key (jwk)', hs256(wrongKey, { alg: 'HS256', typ: 'JWT', jwk: { kty: 'oct', k: Buffer.from(wrongKey).toString('base64url') } }, claims)],
    ['attacker key, our kid, hand-made', hs256(wrongKey, { alg: 'HS256', typ: 'JWT', kid }, { ...claims, sub: b.owner.id })],
    ['tampered payload: another user', `${header}.${encode({ ...claims, sub: b.owner.id })}.${signature}`],
    ['tampered payload: another tenant', `${header}.${encode({ ...claims, tid: b.id })}.${signature}`],
    ['tampered payload: later expiry', `${header}.${encode({ ...claims, exp: Number(claims.exp) + 86_400 })}.${signature}`],
    ['tampered signature', `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`],
    ['signature stripped', `${header}.${payload}.`],
    ['two segments', `${header}.${payload}`],
    ['kid of no key', `${encode({ alg: 'HS256', typ: 'JWT', kid: 'ffffffffffffffff' })}.${payload}.${signature}`],
    ['oversized', `${header}.${payload}${'A'.repeat(4_000)}.${signature}`]
  ]
  for (const [label, token] of forged) {
    assertProblem(tt, await me(bearer(token)), 401, 'unauthenticated', label)
    assertProblem(tt, await app.inject({ method: 'GET', url: '/v1/tenant', headers: bearer(token) }), 401, 'unauthenticated', `${label} (tenant route)`)
  }
  tt.equal((await me(bearer(good))).statusCode, 200, 'the genuine token works')
})

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

t.test('login time does not reveal whether an email has an account', async tt => {
  const known = await registerUser(app)
  const attempt = async (email: string) => {
    const started = performance.now()
    const response = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password: 'not the password at all' } })
    return { ms: performance.now() - started, response }
  }
  const unknownEmail = () => `nobody-${randomBytes(5).toString('hex')}@example.test`
  for (let i = 0; i < 3; i++) { await attempt(known.email); await attempt(unknownEmail()) } // warm-up

  const knownMs: number[] = []
  const unknownMs: number[] = []
  let lastKnown: LightMyRequestResponse | undefined
  let lastUnknown: LightMyRequestResponse | undefined
  for (let round = 0; round < 20; round++) {
    // alternate which goes first, so drift in the machine's load falls on both sides
    const order = round % 2 === 0 ? ['known', 'unknown'] as const : ['unknown', 'known'] as const
    for (const which of order) {
      const { ms, response } = await attempt(which === 'known' ? known.email : unknownEmail())
      if (which === 'known') { knownMs.push(ms); lastKnown = response } else { unknownMs.push(ms); lastUnknown = response }
    }
  }
  assertProblem(tt, lastKnown!, 401, 'unauthenticated', 'known email, wrong password')
  assertProblem(tt, lastUnknown!, 401, 'unauthenticated', 'unknown email')
  tt.same(withoutRequestId(lastKnown!), withoutRequestId(lastUnknown!), 'the same answer, word for word')

  const knownMedian = median(knownMs)
  const unknownMedian = median(unknownMs)
  const ratio = Math.max(knownMedian, unknownMedian) / Math.min(knownMedian, unknownMedian)
  tt.comment(`login medians over 20 each: known email ${knownMedian.toFixed(1)} ms, unknown email ${unknownMedian.toFixed(1)} ms (ratio ${ratio.toFixed(2)})`)
  tt.ok(knownMedian > 5 && unknownMedian > 5, 'both pay for a password hash (argon2id takes about 10 ms or more)')
  tt.ok(ratio <= 2 || Math.abs(knownMedian - unknownMedian) <= 30, 'the medians are within a factor of 2 or 30 ms of each other')
})
