import { randomBytes } from 'node:crypto'
import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { clientOf, expectInvalid, expectProblem, type ProblemBody } from '../../helpers/http.ts'
import { waitFor } from '../../helpers/wait.ts'
import { createTenant, relaxedAuthLimits } from '../../helpers/tenants.ts'
import { PASSWORD, registerUser, tokenFor } from '../../helpers/users.ts'

/** Tenant resolution (API.md, Tenancy) and POST /v1/tenants. */
const { app, config, db } = await buildTestApp(t, { env: relaxedAuthLimits })
const acme = await createTenant(app)
// a second tenant with the same owner, so that every resolution source can name a different one
const otherSlug = `o-${randomBytes(4).toString('hex')}`
const created = await clientOf(app, acme.owner.token).post('/v1/tenants', { slug: otherSlug, name: 'Other' })
const other = created.json().tenant as { id: string, slug: string }
const ownerUnbound = await tokenFor(app, acme.owner.email)
const outsider = await registerUser(app, { name: 'Outsider' })
const outsiderToken = await tokenFor(app, outsider.email)

const baseDomain = config.BASE_DOMAIN
const tenantOf = (response: { json: () => unknown }) => (response.json() as { tenant: { id: string } }).tenant.id
const unique = () => randomBytes(4).toString('hex')

t.test('the default base domain is api.localhost', async tt => {
  tt.equal(baseDomain, 'api.localhost')
})

t.test('X-Tenant names the tenant by slug or by id', async tt => {
  const owner = clientOf(app, ownerUnbound)
  for (const key of [acme.slug, acme.id]) {
    const response = await owner.get('/v1/tenant', { 'x-tenant': key })
    tt.equal(response.statusCode, 200, `X-Tenant: ${key}`)
    tt.equal(tenantOf(response), acme.id)
    tt.equal(response.json().tenant.slug, acme.slug)
  }
})

t.test('a Host under the base domain names the tenant by its first label, port and case ignored', async tt => {
  const owner = clientOf(app, ownerUnbound)
  for (const host of [`${acme.slug}.${baseDomain}:3000`, `${acme.slug}.${baseDomain}`, `${acme.slug}.${baseDomain}`.toUpperCase()]) {
    const response = await owner.get('/v1/tenant', { host })
    tt.equal(response.statusCode, 200, `Host: ${host}`)
    tt.equal(tenantOf(response), acme.id)
  }
})

t.test("a tenant-bound token's tid names the tenant when nothing else does", async tt => {
  const response = await clientOf(app, acme.owner.token).get('/v1/tenant')
  tt.equal(response.statusCode, 200)
  tt.equal(tenantOf(response), acme.id)
})

t.test('resolution order: X-Tenant, then Host, then the token', async tt => {
  const boundToAcme = clientOf(app, acme.owner.token)
  const cases: Array<{ label: string, headers: Record<string, string>, expected: string }> = [
    { label: 'X-Tenant beats the token', headers: { 'x-tenant': other.slug }, expected: other.id },
    { label: 'X-Tenant beats the Host', headers: { 'x-tenant': other.id, host: `${acme.slug}.${baseDomain}:3000` }, expected: other.id },
    { label: 'the Host beats the token', headers: { host: `${other.slug}.${baseDomain}` }, expected: other.id },
    { label: 'a Host outside the base domain falls through to the token', headers: { host: `${other.slug}.example.com` }, expected: acme.id },
    { label: 'the bare base domain falls through to the token', headers: { host: `${baseDomain}:3000` }, expected: acme.id },
    { label: 'two labels under the base domain fall through to the token', headers: { host: `www.${other.slug}.${baseDomain}` }, expected: acme.id },
    { label: 'a Host that only starts like the base domain falls through to the token', headers: { host: `${other.slug}.${baseDomain}.example.com` }, expected: acme.id }
  ]
  for (const { label, headers, expected } of cases) {
    const response = await boundToAcme.get('/v1/tenant', headers)
    tt.equal(response.statusCode, 200, label)
    tt.equal(tenantOf(response), expected, label)
  }
})

t.test('no tenant named anywhere is 400 tenant_required', async tt => {
  const owner = clientOf(app, ownerUnbound)
  expectProblem(tt, await owner.get('/v1/tenant'), 400, 'tenant_required', 'no source')
  expectProblem(tt, await owner.get('/v1/articles', { host: 'localhost:3000' }), 400, 'tenant_required', 'host outside the base domain')
  expectProblem(tt, await owner.get('/v1/members', { host: baseDomain }), 400, 'tenant_required', 'the base domain itself')
})

t.test('an unknown tenant is 404 tenant_not_found, whichever source names it', async tt => {
  const owner = clientOf(app, ownerUnbound)
  const answers = [
    await owner.get('/v1/tenant', { 'x-tenant': `missing-${unique()}` }),
    await owner.get('/v1/tenant', { 'x-tenant': '01890a5d-ac96-774b-bcce-b302099a8057' }),
    await owner.get('/v1/tenant', { host: `missing-${unique()}.${baseDomain}:3000` })
  ]
  for (const response of answers) expectProblem(tt, response, 404, 'tenant_not_found')
})

t.test('an X-Tenant that is neither slug nor id is 400 validation_failed, and nothing is cached for it', async tt => {
  const owner = clientOf(app, ownerUnbound)
  await owner.get('/v1/tenant', { 'x-tenant': acme.slug })
  const cachedBefore = app.tenants.cachedTenantKeys
  const bad = [
    'x'.repeat(16_384), `${'a'.repeat(41)}`, 'ab', 'acme--corp', '-acme', 'acme-', 'acme_corp', 'acme corp', 'acme.corp',
    'ünïcode', '{01890a5d-ac96-774b-bcce-b302099a8057}', '01890a5d-ac96-774b-bcce-b302099a8057-0000-000000000000', "acme'; --"
  ]
  for (const key of bad) {
    expectInvalid(tt, await owner.get('/v1/tenant', { 'x-tenant': key }), '/x-tenant', key.slice(0, 40))
  }
  for (let i = 0; i < 50; i++) await owner.get('/v1/articles', { 'x-tenant': randomBytes(1024).toString('base64') })
  tt.equal(app.tenants.cachedTenantKeys, cachedBefore, 'the tenant cache did not grow')

  // a bad key by another way in never reaches the cache either: a login's tenant, a Host label
  const login = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: acme.owner.email, password: PASSWORD, tenant: 'not_a_slug!' } })
  expectProblem(tt, login, 404, 'tenant_not_found', 'login with a malformed tenant')
  expectProblem(tt, await owner.get('/v1/tenant', { host: `a_b.${baseDomain}` }), 404, 'tenant_not_found', 'malformed Host label')
  tt.equal(app.tenants.cachedTenantKeys, cachedBefore, 'still no growth')

  tt.equal((await owner.get('/v1/tenant', { 'x-tenant': ` ${acme.slug.toUpperCase()} ` })).statusCode, 200, 'case and spaces are still forgiven')
})

t.test('a tenant the caller is not a member of looks exactly like an unknown one', async tt => {
  const stranger = clientOf(app, outsiderToken)
  const strip = ({ request_id: _requestId, ...rest }: ProblemBody) => rest
  const unknown = expectProblem(tt, await stranger.get('/v1/members', { 'x-tenant': `missing-${unique()}` }), 404, 'tenant_not_found')
  for (const headers of [{ 'x-tenant': acme.slug }, { 'x-tenant': acme.id }, { host: `${acme.slug}.${baseDomain}` }] as Array<Record<string, string>>) {
    const response = await stranger.get('/v1/members', headers)
    const body = expectProblem(tt, response, 404, 'tenant_not_found', JSON.stringify(headers))
    tt.same(strip(body), strip(unknown), 'the same body as for a tenant that does not exist')
    tt.same(Object.keys(body).sort(), Object.keys(unknown).sort(), 'the same fields')
  }
  // asking again (now from the membership cache) answers the same
  expectProblem(tt, await stranger.get('/v1/members', { 'x-tenant': acme.slug }), 404, 'tenant_not_found', 'cached')
})

t.test('authentication comes before tenancy: no or a bad token on a tenant route is 401', async tt => {
  const anonymous = clientOf(app, null)
  expectProblem(tt, await anonymous.get('/v1/articles', { 'x-tenant': acme.slug }), 401, 'unauthenticated', 'known tenant')
  expectProblem(tt, await anonymous.get('/v1/articles', { 'x-tenant': 'no-such-tenant' }), 401, 'unauthenticated', 'unknown tenant')
  expectProblem(tt, await anonymous.get('/v1/members'), 401, 'unauthenticated', 'no tenant at all')
  expectProblem(tt, await clientOf(app, 'not-a-jwt').get('/v1/tenant', { 'x-tenant': acme.slug }), 401, 'unauthenticated', 'garbage token')
})

t.test('POST /v1/tenants creates a tenant owned by the caller', async tt => {
  const founder = await registerUser(app, { name: 'Founder' })
  const token = await tokenFor(app, founder.email)
  const slug = `new-${unique()}`
  const response = await clientOf(app, token).post('/v1/tenants', { slug, name: '  New Org  ' })
  tt.equal(response.statusCode, 201)
  const tenant = response.json().tenant
  tt.same(Object.keys(tenant).sort(), ['created_at', 'id', 'name', 'slug'])
  tt.equal(tenant.slug, slug)
  tt.equal(tenant.name, 'New Org', 'the name is trimmed')
  tt.match(tenant.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
  tt.ok(Number.isFinite(Date.parse(tenant.created_at)), 'created_at is a timestamp')

  const me = await clientOf(app, token).get('/v1/me')
  tt.equal(me.statusCode, 200)
  tt.same(me.json().memberships, [{ tenant: { id: tenant.id, slug, name: 'New Org' }, role: 'owner' }])

  const members = await clientOf(app, token).get('/v1/members', { 'x-tenant': slug })
  tt.equal(members.statusCode, 200)
  tt.same(members.json().data.map((m: { user: { id: string }, role: string }) => [m.user.id, m.role]), [[founder.id, 'owner']])

  const boundToken = await tokenFor(app, founder.email, slug)
  tt.equal(tenantOf(await clientOf(app, boundToken).get('/v1/tenant')), tenant.id, 'the owner can log in bound to it')
})

t.test('slug rules: pattern and 3..40 characters', async tt => {
  const creator = clientOf(app, ownerUnbound)
  const bad = ['ab', 'a'.repeat(41), 'Acme', '-acme', 'acme-', 'ac--me', 'ac_me', 'ac me', 'acmé', '', '   ']
  for (const slug of bad) {
    expectInvalid(tt, await creator.post('/v1/tenants', { slug, name: 'Bad' }), '/slug', `slug ${JSON.stringify(slug)}`)
  }
  for (const slug of [`a${unique()}`.slice(0, 3), `b${unique()}`.padEnd(40, '0'), `c-${unique()}-9`, `  d${unique()}  `]) {
    const response = await creator.post('/v1/tenants', { slug, name: 'Good' })
    tt.equal(response.statusCode, 201, `slug ${JSON.stringify(slug)} is accepted`)
    tt.equal(response.json().tenant.slug, slug.trim())
  }
  expectInvalid(tt, await creator.post('/v1/tenants', { slug: `e${unique()}` }), '/name', 'name missing')
  expectInvalid(tt, await creator.post('/v1/tenants', { slug: `e${unique()}`, name: '   ' }), '/name', 'blank name')
  expectInvalid(tt, await creator.post('/v1/tenants', { slug: `e${unique()}`, name: 'X', plan: 'pro' }), '/plan', 'unknown property')
})

t.test('a taken slug is 409 conflict and creates nothing', async tt => {
  const founder = await registerUser(app, { name: 'Late' })
  const token = await tokenFor(app, founder.email)
  const response = await clientOf(app, token).post('/v1/tenants', { slug: acme.slug, name: 'Copycat' })
  expectProblem(tt, response, 409, 'conflict')
  const me = await clientOf(app, token).get('/v1/me')
  tt.same(me.json().memberships, [], 'the caller became a member of nothing')
})

t.test('POST /v1/tenants needs a token', async tt => {
  expectProblem(tt, await clientOf(app, null).post('/v1/tenants', { slug: `z${unique()}`, name: 'Anon' }), 401, 'unauthenticated')
})

t.test('a new tenant resolves at once, although its absence was just cached', async tt => {
  const founder = await registerUser(app, { name: 'Eager' })
  const client = clientOf(app, await tokenFor(app, founder.email))
  const slug = `soon-${unique()}`
  for (const headers of [{ 'x-tenant': slug }, { host: `${slug}.${baseDomain}` }] as Array<Record<string, string>>) {
    expectProblem(tt, await client.get('/v1/tenant', headers), 404, 'tenant_not_found', 'before it exists')
  }
  tt.equal((await client.post('/v1/tenants', { slug, name: 'Soon' })).statusCode, 201)
  for (const headers of [{ 'x-tenant': slug }, { host: `${slug}.${baseDomain}` }] as Array<Record<string, string>>) {
    const response = await client.get('/v1/tenant', headers)
    tt.equal(response.statusCode, 200, `resolvable right after creation (${JSON.stringify(headers)})`)
  }
})

t.test('a tenant created on one instance resolves on another that cached its absence', async tt => {
  const second = await buildTestApp(tt, { database: db, env: { ...relaxedAuthLimits, REDIS_PREFIX: config.REDIS_PREFIX } })
  const founder = await registerUser(app, { name: 'Elsewhere' })
  const token = await tokenFor(app, founder.email)
  const slug = `far-${unique()}`
  expectProblem(tt, await clientOf(second.app, token).get('/v1/tenant', { 'x-tenant': slug }), 404, 'tenant_not_found', 'instance 2, before')
  tt.equal((await clientOf(app, token).post('/v1/tenants', { slug, name: 'Far' })).statusCode, 201, 'created on instance 1')
  const resolved = await waitFor('the new tenant to resolve on instance 2', async () =>
    (await clientOf(second.app, token).get('/v1/tenant', { 'x-tenant': slug })).statusCode === 200, 2000)
  // the negative entry would live 5 s: resolving sooner proves the invalidation reached instance 2
  tt.ok(resolved, 'instance 2 resolves it within 2 s')
})
