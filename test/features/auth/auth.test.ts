import t, { type Test } from 'tap'
import { randomBytes, randomUUID } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import type { FastifyPluginAsync } from 'fastify'
import { createSql } from '../../../src/platform/db/client.ts'
import { keyIdOf } from '../../../src/features/auth/tokens.ts'
import { splitList } from '../../../src/config.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { bearer, login, PASSWORD, registerUser } from '../../helpers/users.ts'

// a route that needs a token and does no query: shows what the auth plugin knows of the caller
const whoami: FastifyPluginAsync = async (app) => {
  app.get('/probe/whoami', async (request) => ({ principal: request.principal, userId: request.ctx.userId }))
}

const { app, db, config, logs } = await buildTestApp(t, {
  env: { AUTH_RATE_LIMIT_PER_IP: '10000', AUTH_RATE_LIMIT_PER_EMAIL: '10000' },
  extraPlugins: [whoami]
})
const owner = createSql(db.ownerUrl, { max: 2 })
t.teardown(() => owner.end({ timeout: 5 }))
const secret = splitList(config.JWT_SECRETS)[0] as string

type Response = Awaited<ReturnType<typeof app.inject>>

function claimsOf (token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as Record<string, unknown>
}

function withoutRequestId (response: Response): Record<string, unknown> {
  const { request_id: _requestId, ...rest } = response.json() as Record<string, unknown>
  return rest
}

function assertProblem (tt: Test, response: Response, status: number, code: string): void {
  tt.equal(response.statusCode, status, `status ${status}`)
  tt.match(response.headers['content-type'], /^application\/problem\+json/)
  tt.equal(response.json().code, code, `code ${code}`)
}

/** A tenant with the user as a member, written as the owner (past row-level security). */
async function tenantWithMember (userId: string, role = 'owner'): Promise<{ id: string, slug: string }> {
  const slug = `t-${randomBytes(5).toString('hex')}`
  const [tenant] = await owner<Array<{ id: string, slug: string }>>`insert into tenants (slug, name) values (${slug}, ${`Tenant ${slug}`}) returning id, slug`
  await owner`insert into memberships (tenant_id, user_id, role) values (${tenant!.id}, ${userId}, ${role})`
  return tenant!
}

const me = (headers: Record<string, string> = {}) => app.inject({ method: 'GET', url: '/v1/me', headers })
const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, payload: payload as Record<string, unknown> })

t.test('register: 201 with the user, email lower-cased and strings trimmed, password stored only as an argon2id hash', async tt => {
  const email = `Ada.${randomBytes(4).toString('hex')}@Example.TEST`
  const response = await post('/v1/auth/register', { email: `  ${email} `, password: PASSWORD, name: '  Ada Lovelace ' })
  tt.equal(response.statusCode, 201)
  tt.equal(response.headers['cache-control'], 'no-store')
  const { user } = response.json()
  tt.same(Object.keys(user).sort(), ['created_at', 'email', 'id', 'name'])
  tt.equal(user.email, email.toLowerCase())
  tt.equal(user.name, 'Ada Lovelace')
  tt.match(user.id, /^[0-9a-f-]{36}$/)
  tt.match(user.created_at, /^\d{4}-\d{2}-\d{2}T.*Z$/)
  const [row] = await owner<Array<{ password_hash: string, is_staff: boolean }>>`select password_hash, is_staff from users where id = ${user.id}`
  tt.match(row!.password_hash, /^\$argon2id\$/)
  tt.notMatch(row!.password_hash, /horse/)
  tt.equal(row!.is_staff, false)
})

t.test('register: a taken email is 409 conflict, whatever its case', async tt => {
  const user = await registerUser(app)
  const response = await post('/v1/auth/register', { email: user.email.toUpperCase(), password: PASSWORD, name: 'Other' })
  assertProblem(tt, response, 409, 'conflict')
  tt.equal(response.headers['cache-control'], 'no-store', 'errors under /v1/auth are not stored either')
})

t.test('register: two at once with one email, one wins and the other is 409', async tt => {
  const email = `race-${randomBytes(4).toString('hex')}@example.test`
  const answers = await Promise.all([
    post('/v1/auth/register', { email, password: PASSWORD, name: 'A' }),
    post('/v1/auth/register', { email: email.toUpperCase(), password: PASSWORD, name: 'B' })
  ])
  tt.same(answers.map(a => a.statusCode).sort(), [201, 409])
})

t.test('register: invalid input is 400 validation_failed', async tt => {
  const valid = { email: `v-${randomBytes(4).toString('hex')}@example.test`, password: PASSWORD, name: 'Val' }
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['password of 11 characters', { ...valid, password: 'x'.repeat(11) }, '/password'],
    ['blank name', { ...valid, name: '    ' }, '/name'],
    ['no @ in email', { ...valid, email: 'not-an-email' }, '/email'],
    ['email over 254 characters', { ...valid, email: `${'a'.repeat(250)}@example.test` }, '/email'],
    ['unknown property', { ...valid, is_staff: true }, '/is_staff'],
    ['missing name', { email: valid.email, password: valid.password }, '/name']
  ]
  for (const [label, payload, path] of cases) {
    const response = await post('/v1/auth/register', payload)
    assertProblem(tt, response, 400, 'validation_failed')
    tt.equal(response.json().errors?.[0]?.path, path, label)
  }
  const [row] = await owner<Array<{ count: number }>>`select count(*)::int as count from users where email = ${valid.email}`
  tt.equal(row!.count, 0, 'nothing was stored')
})

t.test('login: 200 with a Bearer pair; the access token carries sub, iat, exp, jti and no tid', async tt => {
  const user = await registerUser(app)
  const response = await post('/v1/auth/login', { email: user.email, password: user.password })
  tt.equal(response.statusCode, 200)
  tt.equal(response.headers['cache-control'], 'no-store')
  const body = response.json()
  tt.same(Object.keys(body).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type'])
  tt.equal(body.token_type, 'Bearer')
  tt.equal(body.expires_in, 900)
  tt.match(body.refresh_token, /^[A-Za-z0-9_-]{43}$/)
  const claims = claimsOf(body.access_token)
  tt.equal(claims.sub, user.id)
  tt.type(claims.jti, 'string')
  tt.equal((claims.exp as number) - (claims.iat as number), 900)
  tt.equal(claims.tid, undefined)
  const [stored] = await owner<Array<{ count: number }>>`select count(*)::int as count from refresh_tokens where user_id = ${user.id} and token_hash = sha256(${body.refresh_token}::bytea)`
  tt.equal(stored!.count, 1, 'the refresh token is stored as its SHA-256')
})

t.test('login: the email is case-insensitive and trimmed', async tt => {
  const user = await registerUser(app)
  const tokens = await login(app, `  ${user.email.toUpperCase()} `, user.password)
  tt.equal(claimsOf(tokens.access_token).sub, user.id)
})

t.test('login: wrong password and unknown email answer the same 401', async tt => {
  const user = await registerUser(app)
  const wrongPassword = await post('/v1/auth/login', { email: user.email, password: 'not the password at all' })
  const unknownEmail = await post('/v1/auth/login', { email: `nobody-${randomBytes(4).toString('hex')}@example.test`, password: user.password })
  assertProblem(tt, wrongPassword, 401, 'unauthenticated')
  assertProblem(tt, unknownEmail, 401, 'unauthenticated')
  tt.same(withoutRequestId(wrongPassword), withoutRequestId(unknownEmail))
  tt.same(Object.keys(wrongPassword.headers).sort(), Object.keys(unknownEmail.headers).sort(), 'and the same headers')
  tt.equal(wrongPassword.headers['cache-control'], 'no-store')
})

t.test('login: invalid input is 400 validation_failed', async tt => {
  assertProblem(tt, await post('/v1/auth/login', { email: 'a@b.c' }), 400, 'validation_failed')
  assertProblem(tt, await post('/v1/auth/login', { email: 'a@b.c', password: 'x', extra: 1 }), 400, 'validation_failed')
  assertProblem(tt, await post('/v1/auth/login', { email: 'a@b.c', password: 'x', tenant: '  ' }), 400, 'validation_failed')
})

t.test('login with a tenant binds the token (tid), by slug or id', async tt => {
  const user = await registerUser(app)
  const tenant = await tenantWithMember(user.id, 'viewer')
  tt.equal(claimsOf((await login(app, user.email, user.password, tenant.slug)).access_token).tid, tenant.id)
  tt.equal(claimsOf((await login(app, user.email, user.password, tenant.slug.toUpperCase())).access_token).tid, tenant.id)
  tt.equal(claimsOf((await login(app, user.email, user.password, tenant.id)).access_token).tid, tenant.id)
})

t.test('login with a tenant the user is not a member of is 404 tenant_not_found, like an unknown tenant', async tt => {
  const user = await registerUser(app)
  const stranger = await registerUser(app)
  const foreign = await tenantWithMember(stranger.id)
  const notMember = await post('/v1/auth/login', { email: user.email, password: user.password, tenant: foreign.slug })
  const unknown = await post('/v1/auth/login', { email: user.email, password: user.password, tenant: `nope-${randomBytes(4).toString('hex')}` })
  const unknownId = await post('/v1/auth/login', { email: user.email, password: user.password, tenant: randomUUID() })
  assertProblem(tt, notMember, 404, 'tenant_not_found')
  assertProblem(tt, unknown, 404, 'tenant_not_found')
  assertProblem(tt, unknownId, 404, 'tenant_not_found')
  tt.same(withoutRequestId(notMember), withoutRequestId(unknown))
  tt.same(withoutRequestId(unknownId), withoutRequestId(unknown))
  const wrongPassword = await post('/v1/auth/login', { email: user.email, password: 'wrong password here', tenant: foreign.slug })
  assertProblem(tt, wrongPassword, 401, 'unauthenticated')
  const [issued] = await owner<Array<{ count: number }>>`select count(*)::int as count from refresh_tokens where user_id = ${user.id}`
  tt.equal(issued!.count, 0, 'no refresh token was issued')
})

t.test('GET /v1/me: the caller and its memberships, not stored', async tt => {
  const user = await registerUser(app, { name: 'Grace' })
  const tokens = await login(app, user.email, user.password)
  const empty = await me(bearer(tokens.access_token))
  tt.equal(empty.statusCode, 200)
  tt.equal(empty.headers['cache-control'], 'no-store')
  const body = empty.json()
  tt.same(Object.keys(body.user).sort(), ['created_at', 'email', 'id', 'is_staff', 'name'])
  tt.match(body.user, { id: user.id, email: user.email, name: 'Grace', is_staff: false })
  tt.same(body.memberships, [])

  const first = await tenantWithMember(user.id, 'owner')
  const second = await tenantWithMember(user.id, 'editor')
  const other = await registerUser(app)
  await tenantWithMember(other.id)
  const listed = (await me(bearer(tokens.access_token))).json()
  tt.same(listed.memberships, [
    { tenant: { id: first.id, slug: first.slug, name: `Tenant ${first.slug}` }, role: 'owner' },
    { tenant: { id: second.id, slug: second.slug, name: `Tenant ${second.slug}` }, role: 'editor' }
  ], 'its own memberships only, oldest first')
})

t.test('GET /v1/me without a token is 401, not stored', async tt => {
  const response = await me()
  assertProblem(tt, response, 401, 'unauthenticated')
  tt.equal(response.headers['cache-control'], 'no-store')
})

t.test('bad tokens are 401: missing, malformed, tampered, alg none, wrong key, HS512; expired is token_expired', async tt => {
  const user = await registerUser(app)
  const { access_token: good } = await login(app, user.email, user.password)
  const [header, payload, signature] = good.split('.') as [string, string, string]
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const claims = { sub: user.id, jti: randomUUID() }
  const kid = keyIdOf(secret)
  const wrongKey = 'a-wrong-secret-0123456789abcdefghijklmn'
  const cases: Array<[string, Record<string, string>]> = [
    ['no header', {}],
    ['not bearer', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
    ['bearer without token', { authorization: 'Bearer ' }],
    ['garbage', { authorization: 'Bearer not.a.token' }],
    ['tampered signature', bearer(`${header}.${payload}.${(signature.startsWith('A') ? 'B' : 'A') + signature.slice(1)}`)],
    ['tampered payload', bearer(`${header}.${encode({ ...claimsOf(good), sub: randomUUID() })}.${signature}`)],
    ['alg none', bearer(`${encode({ alg: 'none', typ: 'JWT', kid })}.${encode({ ...claimsOf(good) })}.`)],
    ['alg none, signature kept', bearer(`${encode({ alg: 'none', typ: 'JWT', kid })}.${payload}.${signature}`)],
    ['wrong key, our kid', bearer(createSigner({ key: wrongKey, kid, expiresIn: 60_000 })(claims))],
    ['wrong key, its kid', bearer(createSigner({ key: wrongKey, kid: keyIdOf(wrongKey), expiresIn: 60_000 })(claims))],
    ['HS512 with the real secret', bearer(createSigner({ key: secret, algorithm: 'HS512', kid, expiresIn: 60_000 })(claims))]
  ]
  for (const [label, headers] of cases) {
    const response = await me(headers)
    tt.equal(response.statusCode, 401, label)
    tt.equal(response.json().code, 'unauthenticated', label)
  }
  const expired = createSigner({ key: secret, kid, expiresIn: 60_000, clockTimestamp: Date.now() - 3_600_000 })(claims)
  assertProblem(tt, await me(bearer(expired)), 401, 'token_expired')
  tt.equal((await me(bearer(good))).statusCode, 200, 'while the good token works')
  tt.equal((await me({ authorization: `bearer ${good}` })).statusCode, 200, 'the scheme is case-insensitive')
})

t.test('a token of a user that does not exist is 401', async tt => {
  const token = createSigner({ key: secret, kid: keyIdOf(secret), expiresIn: 60_000 })({ sub: randomUUID(), jti: randomUUID() })
  assertProblem(tt, await me(bearer(token)), 401, 'unauthenticated')
})

t.test('an authenticated request knows its caller from memory; a user change published drops it', async tt => {
  const user = await registerUser(app, { name: 'Before' })
  const { access_token: token } = await login(app, user.email, user.password)
  const first = await app.inject({ method: 'GET', url: '/probe/whoami', headers: bearer(token) })
  tt.equal(first.statusCode, 200)
  tt.same(first.json(), { principal: { userId: user.id, name: 'Before', email: user.email, isStaff: false }, userId: user.id })

  await owner`update users set name = 'After', is_staff = true where id = ${user.id}`
  const cached = await app.inject({ method: 'GET', url: '/probe/whoami', headers: bearer(token) })
  tt.equal(cached.json().principal.name, 'Before', 'no query: the change is not seen until it is published')

  await app.invalidation.publish('user', user.id)
  const fresh = await app.inject({ method: 'GET', url: '/probe/whoami', headers: bearer(token) })
  tt.match(fresh.json().principal, { name: 'After', isStaff: true })

  const line = logs.find(l => l.msg === 'request' && l.request_id === fresh.headers['x-request-id'])
  tt.equal(line?.user_id, user.id, 'the access log line names the user')
})

t.test('a deleted (anonymized) user: its valid token is 401 once the change is published', async tt => {
  const user = await registerUser(app)
  const { access_token: token, refresh_token: refreshToken } = await login(app, user.email, user.password)
  tt.equal((await me(bearer(token))).statusCode, 200, 'cached as alive')
  await owner`update users set deleted_at = now() where id = ${user.id}`
  await app.invalidation.publish('user', user.id)
  assertProblem(tt, await me(bearer(token)), 401, 'unauthenticated')
  assertProblem(tt, await app.inject({ method: 'GET', url: '/probe/whoami', headers: bearer(token) }), 401, 'unauthenticated')
  assertProblem(tt, await post('/v1/auth/refresh', { refresh_token: refreshToken }), 401, 'unauthenticated')
  assertProblem(tt, await post('/v1/auth/login', { email: user.email, password: user.password }), 401, 'unauthenticated')
})

t.test('refresh: a new pair, the old refresh token spent', async tt => {
  const user = await registerUser(app)
  const first = await login(app, user.email, user.password)
  const response = await post('/v1/auth/refresh', { refresh_token: first.refresh_token })
  tt.equal(response.statusCode, 200)
  tt.equal(response.headers['cache-control'], 'no-store')
  const second = response.json()
  tt.equal(second.token_type, 'Bearer')
  tt.not(second.refresh_token, first.refresh_token)
  tt.not(second.access_token, first.access_token)
  tt.equal(claimsOf(second.access_token).sub, user.id)
  tt.equal((await me(bearer(second.access_token))).statusCode, 200)
  const third = await post('/v1/auth/refresh', { refresh_token: second.refresh_token })
  tt.equal(third.statusCode, 200, 'the new refresh token works once in turn')
})

t.test('refresh: presenting a spent token revokes the whole family, the newest token included', async tt => {
  const user = await registerUser(app)
  const stolen = await login(app, user.email, user.password)
  const rotated = (await post('/v1/auth/refresh', { refresh_token: stolen.refresh_token })).json()
  const newest = (await post('/v1/auth/refresh', { refresh_token: rotated.refresh_token })).json()
  const other = await login(app, user.email, user.password)

  const replay = await post('/v1/auth/refresh', { refresh_token: stolen.refresh_token })
  assertProblem(tt, replay, 401, 'unauthenticated')
  assertProblem(tt, await post('/v1/auth/refresh', { refresh_token: newest.refresh_token }), 401, 'unauthenticated')
  const [family] = await owner<Array<{ live: number }>>`
    select count(*) filter (where revoked_at is null)::int as live from refresh_tokens
    where family_id = (select family_id from refresh_tokens where token_hash = sha256(${stolen.refresh_token}::bytea))`
  tt.equal(family!.live, 0, 'every token of the family is revoked')
  tt.equal((await post('/v1/auth/refresh', { refresh_token: other.refresh_token })).statusCode, 200, 'another login (family) is untouched')
  tt.ok(logs.some(l => l.msg === 'spent refresh token presented: family revoked' && l.user_id === user.id), 'the reuse is logged')
})

t.test('refresh: two concurrent refreshes with one token (two tabs) both get the same successor, and only it is live', async tt => {
  const user = await registerUser(app)
  const first = await login(app, user.email, user.password)
  const [a, b] = await Promise.all([
    post('/v1/auth/refresh', { refresh_token: first.refresh_token }),
    post('/v1/auth/refresh', { refresh_token: first.refresh_token })
  ])
  tt.same([a!.statusCode, b!.statusCode], [200, 200], 'neither tab is logged out')
  tt.equal(a!.json().refresh_token, b!.json().refresh_token, 'the same successor, not a second live token')
  tt.not(a!.json().refresh_token, first.refresh_token)
  tt.equal((await me(bearer(b!.json().access_token))).statusCode, 200, 'each gets a working access token')

  const again = await post('/v1/auth/refresh', { refresh_token: first.refresh_token })
  tt.equal(again.statusCode, 200, 'a third presentation inside the grace still answers')
  tt.equal(again.json().refresh_token, a!.json().refresh_token, 'with the same successor')
  const [family] = await owner<Array<{ live: number, revoked: number }>>`
    select count(*) filter (where spent_at is null and revoked_at is null)::int as live,
           count(*) filter (where revoked_at is not null)::int as revoked
    from refresh_tokens where user_id = ${user.id}`
  tt.same(family, { live: 1, revoked: 0 }, 'one live token in the family, nothing revoked')
  tt.equal((await post('/v1/auth/refresh', { refresh_token: a!.json().refresh_token })).statusCode, 200, 'the successor rotates as usual')
})

t.test('refresh: a spent token presented after the grace still revokes the family', async tt => {
  const user = await registerUser(app)
  const stolen = await login(app, user.email, user.password)
  const rotated = (await post('/v1/auth/refresh', { refresh_token: stolen.refresh_token })).json()
  await owner`update refresh_tokens set spent_at = now() - interval '1 minute' where token_hash = sha256(${stolen.refresh_token}::bytea)`
  assertProblem(tt, await post('/v1/auth/refresh', { refresh_token: stolen.refresh_token }), 401, 'unauthenticated')
  assertProblem(tt, await post('/v1/auth/refresh', { refresh_token: rotated.refresh_token }), 401, 'unauthenticated')
  const [family] = await owner<Array<{ live: number }>>`
    select count(*) filter (where revoked_at is null)::int as live from refresh_tokens where user_id = ${user.id}`
  tt.equal(family!.live, 0, 'the whole family is revoked, the successor included')
})

t.test('refresh: an unknown, expired or malformed token is 401', async tt => {
  assertProblem(tt, await post('/v1/auth/refresh', { refresh_token: randomBytes(32).toString('base64url') }), 401, 'unauthenticated')
  const user = await registerUser(app)
  const tokens = await login(app, user.email, user.password)
  await owner`update refresh_tokens set expires_at = now() - interval '1 second' where token_hash = sha256(${tokens.refresh_token}::bytea)`
  assertProblem(tt, await post('/v1/auth/refresh', { refresh_token: tokens.refresh_token }), 401, 'unauthenticated')
  assertProblem(tt, await post('/v1/auth/refresh', {}), 400, 'validation_failed')
  assertProblem(tt, await post('/v1/auth/refresh', { refresh_token: tokens.refresh_token, extra: true }), 400, 'validation_failed')
})

t.test('refresh keeps the tenant binding of the family', async tt => {
  const user = await registerUser(app)
  const tenant = await tenantWithMember(user.id)
  const bound = await login(app, user.email, user.password, tenant.slug)
  const refreshed = (await post('/v1/auth/refresh', { refresh_token: bound.refresh_token })).json()
  tt.equal(claimsOf(refreshed.access_token).tid, tenant.id)
  const unbound = await login(app, user.email, user.password)
  tt.equal(claimsOf((await post('/v1/auth/refresh', { refresh_token: unbound.refresh_token })).json().access_token).tid, undefined)
})

t.test('logout: 204 and the family is revoked; an unknown token is 204 too', async tt => {
  const user = await registerUser(app)
  const first = await login(app, user.email, user.password)
  const rotated = (await post('/v1/auth/refresh', { refresh_token: first.refresh_token })).json()
  const response = await post('/v1/auth/logout', { refresh_token: rotated.refresh_token })
  tt.equal(response.statusCode, 204)
  tt.equal(response.body, '')
  tt.equal(response.headers['cache-control'], 'no-store')
  assertProblem(tt, await post('/v1/auth/refresh', { refresh_token: rotated.refresh_token }), 401, 'unauthenticated')
  const [family] = await owner<Array<{ live: number }>>`
    select count(*) filter (where revoked_at is null)::int as live from refresh_tokens where user_id = ${user.id}`
  tt.equal(family!.live, 0)
  tt.equal((await post('/v1/auth/logout', { refresh_token: rotated.refresh_token })).statusCode, 204, 'again: still 204')
  tt.equal((await post('/v1/auth/logout', { refresh_token: randomBytes(32).toString('base64url') })).statusCode, 204, 'unknown: 204')
})

t.test('a login after a parameter change rehashes the password', async tt => {
  const user = await registerUser(app)
  const { hashPassword } = await import('../../../src/features/auth/passwords.ts')
  const weak = await hashPassword(user.password, { ln: 10, r: 8, p: 1 })
  await owner`update users set password_hash = ${weak} where id = ${user.id}`
  await login(app, user.email, user.password)
  const [row] = await owner<Array<{ password_hash: string }>>`select password_hash from users where id = ${user.id}`
  tt.not(row!.password_hash, weak)
  tt.notMatch(row!.password_hash, /ln=10,/)
  tt.match(row!.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/, 'rehashed with argon2id at the current parameters')
  const { verifyPassword } = await import('../../../src/features/auth/passwords.ts')
  tt.equal(await verifyPassword(user.password, row!.password_hash), true, 'the new hash verifies')
  await login(app, user.email, user.password)
  const [after] = await owner<Array<{ password_hash: string }>>`select password_hash from users where id = ${user.id}`
  tt.equal(after!.password_hash, row!.password_hash, 'a current hash is not rehashed again')
})

t.test('a user whose hash is from the previous default (scrypt ln=14) logs in and is moved to argon2id', async tt => {
  const user = await registerUser(app)
  const { hashPassword } = await import('../../../src/features/auth/passwords.ts')
  await owner`update users set password_hash = ${await hashPassword(user.password, { ln: 14, r: 8, p: 1 })} where id = ${user.id}`
  assertProblem(tt, await post('/v1/auth/login', { email: user.email, password: 'not the password' }), 401, 'unauthenticated')
  const [unchanged] = await owner<Array<{ password_hash: string }>>`select password_hash from users where id = ${user.id}`
  tt.match(unchanged!.password_hash, /^\$scrypt\$ln=14,/, 'a failed login rehashes nothing')
  await login(app, user.email, user.password)
  const [row] = await owner<Array<{ password_hash: string }>>`select password_hash from users where id = ${user.id}`
  tt.match(row!.password_hash, /^\$argon2id\$/)
})

t.test('an unmatched URL is 404 without a token', async tt => {
  assertProblem(tt, await app.inject({ method: 'GET', url: '/v1/no-such-thing' }), 404, 'not_found')
  assertProblem(tt, await app.inject({ method: 'PUT', url: '/v1/me' }), 404, 'not_found')
})
