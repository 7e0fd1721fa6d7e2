import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { createSql } from '../../../src/platform/db/client.ts'
import { BucketCache, FlagSnapshot, bucketOf, type FlagDefinition } from '../../../src/features/flags/evaluate.ts'
import { buildTestApp, type Teardown } from '../../helpers/app.ts'
import { createTestDatabase } from '../../helpers/database.ts'
import { repoRoot } from '../../helpers/paths.ts'
import { createTenant, relaxedAuthLimits } from '../../helpers/tenants.ts'
import { bearer, registerUser, tokenFor } from '../../helpers/users.ts'

const flag = (overrides: Partial<FlagDefinition> = {}): FlagDefinition => ({
  key: 'beta', description: 'a beta', enabled: true, internal_only: false, tenants: [], percentage: 0, ...overrides
})
const snapshotOf = (...definitions: FlagDefinition[]) => new FlagSnapshot(definitions, new BucketCache())

// Two app instances on one database and one Redis prefix, as two replicas behind nginx. Set up
// before the first t.test: tap may end the file's root test (and run its teardown) once the
// queued subtests are done, which must not happen while this setup still runs.
const probe: FastifyPluginAsyncTypebox = async (app) => {
  const schema = { response: { 200: Type.Object({ ok: Type.Boolean() }) } }
  app.get('/v1/probe/gated', { config: { tenant: true, permission: 'member', feature: 'probe-gate' }, schema }, async () => ({ ok: true }))
  app.get('/v1/probe/gated-writers', { config: { tenant: true, permission: 'articles:write', feature: 'probe-gate' }, schema }, async () => ({ ok: true }))
  app.get('/v1/probe/internal', { config: { tenant: true, permission: 'member', feature: 'probe-internal' }, schema }, async () => ({ ok: true }))
}

const database = await createTestDatabase()
const closers: Array<() => unknown> = []
t.teardown(async () => {
  for (const close of closers.reverse()) await close()
  await database.drop()
})
const collect: Teardown = { teardown: fn => { closers.push(fn) } }
const env = { ...relaxedAuthLimits, REDIS_PREFIX: `atrium-test:flags-${randomBytes(4).toString('hex')}:` }
const { app: appA } = await buildTestApp(collect, { env, database, extraPlugins: [probe] })
const { app: appB } = await buildTestApp(collect, { env, database, extraPlugins: [probe] })

const acme = await createTenant(appA)
const globex = await createTenant(appA)

/** A staff user, member (viewer) of both tenants; staff is set in the database as the owner would. */
async function makeStaffUser (app: FastifyInstance): Promise<{ id: string, acmeToken: string, globexToken: string }> {
  const user = await registerUser(app, { name: 'Staff Person' })
  for (const tenant of [acme, globex]) {
    const added = await app.inject({ method: 'POST', url: '/v1/members', headers: bearer(tenant.owner.token), payload: { email: user.email, role: 'viewer' } })
    if (added.statusCode !== 201) throw new Error(`add staff: ${added.statusCode} ${added.body}`)
  }
  const owner = createSql(database.ownerUrl, { max: 1 })
  try {
    await owner`update users set is_staff = true where id = ${user.id}`
  } finally {
    await owner.end()
  }
  await app.invalidation.publish('user', user.id)
  return { id: user.id, acmeToken: await tokenFor(app, user.email, acme.slug), globexToken: await tokenFor(app, user.email, globex.slug) }
}
const staff = await makeStaffUser(appA)

t.test('evaluation', async tt => {
  const tenant = randomUUID()
  const other = randomUUID()

  tt.test('a listed tenant is on, an unlisted one off at 0%, and a disabled flag is off for everyone', async t2 => {
    const flags = snapshotOf(flag({ tenants: [tenant] }), flag({ key: 'off', enabled: false, tenants: [tenant], percentage: 100 }))
    t2.equal(flags.isEnabled('beta', { tenantId: tenant, isStaff: false }), true)
    t2.equal(flags.isEnabled('beta', { tenantId: other, isStaff: false }), false)
    t2.equal(flags.isEnabled('beta', { isStaff: false }), false, 'no tenant, not staff: off')
    t2.equal(flags.isEnabled('off', { tenantId: tenant, isStaff: false }), false)
    t2.equal(flags.isEnabled('off', { tenantId: tenant, isStaff: true }), false, 'staff do not override enabled=false')
    t2.equal(flags.isEnabled('missing', { tenantId: tenant, isStaff: true }), false, 'an undefined flag is off')
  })

  tt.test('staff get every enabled flag; internal_only flags reach staff only, listed or not', async t2 => {
    const flags = snapshotOf(flag(), flag({ key: 'internal', internal_only: true, tenants: [tenant], percentage: 100 }))
    t2.equal(flags.isEnabled('beta', { tenantId: other, isStaff: true }), true)
    t2.equal(flags.isEnabled('internal', { tenantId: tenant, isStaff: false }), false)
    t2.equal(flags.isEnabled('internal', { tenantId: tenant, isStaff: true }), true)
    t2.same(flags.all({ tenantId: tenant, isStaff: false }), { beta: false })
    t2.same(flags.all({ tenantId: tenant, isStaff: true }), { beta: true, internal: true })
  })

  tt.test('0% is nobody and 100% everybody; raising the percentage only adds tenants', async t2 => {
    const ids = Array.from({ length: 200 }, () => randomUUID())
    const at = (percentage: number) => {
      const flags = snapshotOf(flag({ percentage }))
      return new Set(ids.filter(id => flags.isEnabled('beta', { tenantId: id, isStaff: false })))
    }
    t2.equal(at(0).size, 0)
    t2.equal(at(100).size, ids.length)
    const ten = at(10)
    const thirty = at(30)
    t2.ok([...ten].every(id => thirty.has(id)), 'every tenant on at 10% is on at 30%')
    t2.ok(thirty.size > ten.size)
  })
})

t.test('percentage bucketing', async tt => {
  tt.test('pinned values: the algorithm (first 4 bytes of sha256("key:tenant") mod 100) never changes silently', async t2 => {
    t2.equal(bucketOf('scheduled-publishing', '00000000-0000-7000-8000-000000000000'), 74)
    t2.equal(bucketOf('beta', '0190a8e4-1c2b-7def-8abc-0123456789ab'), 53)
  })

  tt.test('another process puts every tenant in the same bucket', async t2 => {
    const pairs = Array.from({ length: 200 }, (_, i) => [`flag-${i % 7}`, randomUUID()] as const)
    const here = pairs.map(([key, tenantId]) => bucketOf(key, tenantId))
    const script = "import { bucketOf } from './src/features/flags/evaluate.ts'\n" +
      'const pairs = JSON.parse(process.env.FLAG_PAIRS)\n' +
      'process.stdout.write(JSON.stringify(pairs.map(([key, tenantId]) => bucketOf(key, tenantId))))\n'
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoRoot,
      env: { ...process.env, FLAG_PAIRS: JSON.stringify(pairs) },
      timeout: 30_000
    })
    const there = JSON.parse(stdout) as number[]
    t2.equal(there.length, pairs.length)
    t2.same(there, here)
    t2.ok(new Set(here).size > 50, 'the buckets are spread, not constant')
  })

  tt.test('over 1,000 random tenants the share that is on is within 5 points of the percentage', async t2 => {
    const ids = Array.from({ length: 1000 }, () => randomUUID())
    for (const percentage of [10, 50, 90]) {
      const flags = snapshotOf(flag({ key: `rollout-${percentage}`, percentage }))
      const on = ids.filter(id => flags.isEnabled(`rollout-${percentage}`, { tenantId: id, isStaff: false })).length
      const share = on / 10
      t2.ok(Math.abs(share - percentage) <= 5, `${percentage}%: ${share}% of 1,000 tenants are on`)
    }
  })
})

interface FlagBody { description: string, enabled: boolean, internal_only: boolean, tenants: string[], percentage: number }
const body = (overrides: Partial<FlagBody> = {}): FlagBody => ({
  description: 'A flag under test', enabled: true, internal_only: false, tenants: [], percentage: 0, ...overrides
})
const putFlag = (app: FastifyInstance, token: string, key: string, payload: object) =>
  app.inject({ method: 'PUT', url: `/v1/admin/flags/${key}`, headers: bearer(token), payload })
const features = async (app: FastifyInstance, token: string): Promise<Record<string, boolean>> => {
  const response = await app.inject({ method: 'GET', url: '/v1/features', headers: bearer(token) })
  if (response.statusCode !== 200) throw new Error(`features: ${response.statusCode} ${response.body}`)
  return (response.json() as { features: Record<string, boolean> }).features
}
const get = (app: FastifyInstance, token: string, url: string) => app.inject({ method: 'GET', url, headers: bearer(token) })

function assertProblem (tt: Test, response: LightMyRequestResponse, status: number, code: string): void {
  tt.equal(response.statusCode, status, `status ${status}`)
  tt.match(response.headers['content-type'], /^application\/problem\+json/)
  tt.equal((response.json() as { code: string }).code, code)
}

t.test('PUT /v1/admin/flags/:key', async tt => {
  tt.test('staff create a flag and get it back whole', async t2 => {
    const response = await putFlag(appA, staff.acmeToken, 'put-create', body({ description: '  Trimmed  ', tenants: [globex.id, acme.id, acme.id.toUpperCase()], percentage: 25 }))
    t2.equal(response.statusCode, 200)
    const { flag: created } = response.json() as { flag: FlagBody & { key: string, updated_at: string } }
    t2.match(created, { key: 'put-create', description: 'Trimmed', enabled: true, internal_only: false, percentage: 25 })
    t2.same([...created.tenants].sort(), [acme.id, globex.id].sort(), 'tenants deduplicated, case-folded')
    t2.match(created.updated_at, /^\d{4}-\d{2}-\d{2}T.*Z$/)
  })

  tt.test('a second PUT replaces the flag whole', async t2 => {
    await putFlag(appA, staff.acmeToken, 'put-replace', body({ tenants: [acme.id], percentage: 40 }))
    const response = await putFlag(appA, staff.acmeToken, 'put-replace', body({ description: 'Now global', enabled: false, percentage: 0 }))
    t2.equal(response.statusCode, 200)
    t2.match(response.json(), { flag: { key: 'put-replace', description: 'Now global', enabled: false, tenants: [], percentage: 0 } })
  })

  tt.test('non-staff get 403 forbidden, whatever their role; no token is 401', async t2 => {
    for (const member of [acme.owner, acme.admin, acme.viewer]) {
      assertProblem(t2, await putFlag(appA, member.token, 'not-allowed', body()), 403, 'forbidden')
    }
    const anonymous = await appA.inject({ method: 'PUT', url: '/v1/admin/flags/not-allowed', payload: body() })
    assertProblem(t2, anonymous, 401, 'unauthenticated')
    const listed = await get(appA, staff.acmeToken, '/v1/admin/flags?limit=100')
    t2.notOk((listed.json() as { data: Array<{ key: string }> }).data.some(f => f.key === 'not-allowed'), 'nothing was created')
  })

  tt.test('a bad key or body is 400 validation_failed', async t2 => {
    for (const key of ['Upper', 'under_score', 'x'.repeat(65), 'dot.ted']) {
      assertProblem(t2, await putFlag(appA, staff.acmeToken, key, body()), 400, 'validation_failed')
    }
    const bad: object[] = [
      { ...body(), percentage: 101 },
      { ...body(), percentage: -1 },
      { ...body(), percentage: 5.5 },
      { ...body(), extra: true },
      { ...body(), tenants: ['not-a-uuid'] },
      { ...body(), tenants: [`urn:uuid:${acme.id}`] },
      { ...body(), description: '   ' },
      { enabled: true, internal_only: false, tenants: [], percentage: 0 }
    ]
    for (const payload of bad) {
      assertProblem(t2, await putFlag(appA, staff.acmeToken, 'valid-key', payload), 400, 'validation_failed')
    }
    const listed = await get(appA, staff.acmeToken, '/v1/admin/flags?limit=100')
    t2.notOk((listed.json() as { data: Array<{ key: string }> }).data.some(f => f.key === 'valid-key'), 'nothing was created')
  })

  tt.test('a change is audited in the log of each tenant the flag lists, once, and an identical PUT adds nothing', async t2 => {
    const auditOf = async (tenantToken: string) => {
      const response = await get(appA, tenantToken, '/v1/audit-log?object_type=feature_flag&object_id=audited&limit=100')
      t2.equal(response.statusCode, 200)
      return (response.json() as { data: Array<{ action: string, actor: { id: string } | null, changes: Record<string, unknown> }> }).data
    }
    await putFlag(appA, staff.acmeToken, 'audited', body({ tenants: [acme.id] }))
    t2.same((await auditOf(globex.owner.token)).length, 0, 'an unlisted tenant sees nothing')
    await putFlag(appA, staff.acmeToken, 'audited', body({ tenants: [acme.id, globex.id], percentage: 10 }))
    await putFlag(appA, staff.acmeToken, 'audited', body({ tenants: [acme.id, globex.id], percentage: 10 }))

    const acmeLog = await auditOf(acme.owner.token)
    t2.equal(acmeLog.length, 2, 'created and updated; the identical PUT wrote nothing')
    t2.match(acmeLog[0], { action: 'updated', actor: { id: staff.id } })
    t2.same(acmeLog[0]?.changes, { percentage: [0, 10] }, 'what changed for acme: not that globex was listed')
    t2.match(acmeLog[1], { action: 'created', actor: { id: staff.id }, changes: { enabled: [null, true], tenants: [null, [acme.id]] } })
    const globexLog = await auditOf(globex.owner.token)
    t2.equal(globexLog.length, 1, 'the newly listed tenant sees the change that listed it')
    t2.match(globexLog[0], { action: 'updated' })
    t2.same(globexLog[0]?.changes, { tenants: [[], [globex.id]], percentage: [0, 10] }, 'its own listing, no other tenant')
  })

  tt.test('flag audit entries leak nothing: each tenant sees only its own listing, internal-only flags leave no trace', async t2 => {
    const logBody = async (tenant: typeof acme) => {
      const response = await get(appA, tenant.owner.token, '/v1/audit-log?object_type=feature_flag&limit=100')
      t2.equal(response.statusCode, 200)
      return response
    }
    const entriesFor = async (tenant: typeof acme, key: string) =>
      ((await logBody(tenant)).json() as { data: Array<{ action: string, object_id: string, changes: Record<string, unknown> }> }).data.filter(e => e.object_id === key)

    // a public flag listing both tenants: neither entry names the other tenant
    t2.equal((await putFlag(appA, staff.acmeToken, 'leak-shared', body({ tenants: [acme.id, globex.id] }))).statusCode, 200)
    const [acmeCreated] = await entriesFor(acme, 'leak-shared')
    t2.same(acmeCreated?.changes.tenants, [null, [acme.id]], 'acme\'s entry lists acme only')
    const [globexCreated] = await entriesFor(globex, 'leak-shared')
    t2.same(globexCreated?.changes.tenants, [null, [globex.id]], 'globex\'s entry lists globex only')
    // dropping globex changes nothing for acme: acme gets no entry, globex learns it was unlisted
    await putFlag(appA, staff.acmeToken, 'leak-shared', body({ tenants: [acme.id] }))
    t2.equal((await entriesFor(acme, 'leak-shared')).length, 1, 'nothing changed for acme, nothing written there')
    const globexEntries = await entriesFor(globex, 'leak-shared')
    t2.equal(globexEntries.length, 2)
    t2.same(globexEntries[0]?.changes, { tenants: [[globex.id], []] })
    t2.notOk((await logBody(acme)).body.includes(globex.id), 'acme\'s log never names globex')
    t2.notOk((await logBody(globex)).body.includes(acme.id), 'globex\'s log never names acme')

    // an internal-only flag, created and changed while listing both tenants: no entry anywhere
    await putFlag(appA, staff.acmeToken, 'leak-secret', body({ internal_only: true, description: 'Secret staff tooling', tenants: [acme.id, globex.id] }))
    await putFlag(appA, staff.acmeToken, 'leak-secret', body({ internal_only: true, description: 'Secret staff tooling v2', tenants: [acme.id], percentage: 50 }))
    for (const tenant of [acme, globex]) {
      const log = (await logBody(tenant)).body
      t2.notOk(log.includes('leak-secret'), 'the internal flag\'s key is not in the tenant log')
      t2.notOk(log.includes('Secret staff tooling'), 'nor its description')
    }

    // a public flag made internal: the tenant that knew it learns only that, not what it became
    await putFlag(appA, staff.acmeToken, 'leak-withdrawn', body({ description: 'Public for now', tenants: [acme.id] }))
    await putFlag(appA, staff.acmeToken, 'leak-withdrawn', body({ internal_only: true, description: 'Now a staff secret', tenants: [acme.id], percentage: 30 }))
    const withdrawn = await entriesFor(acme, 'leak-withdrawn')
    t2.equal(withdrawn.length, 2)
    t2.same(withdrawn[0]?.changes, { internal_only: [false, true] })
    t2.notOk((await logBody(acme)).body.includes('Now a staff secret'), 'the new description stays internal')
    // while internal, further changes leave no trace
    await putFlag(appA, staff.acmeToken, 'leak-withdrawn', body({ internal_only: true, description: 'Still secret', tenants: [acme.id, globex.id] }))
    t2.equal((await entriesFor(acme, 'leak-withdrawn')).length, 2)
    t2.equal((await entriesFor(globex, 'leak-withdrawn')).length, 0)
    // made public again: to a tenant it appears as it now is, with no hint of its internal past
    await putFlag(appA, staff.acmeToken, 'leak-withdrawn', body({ description: 'Public again', tenants: [acme.id] }))
    const reappeared = await entriesFor(acme, 'leak-withdrawn')
    t2.equal(reappeared.length, 3)
    t2.same(reappeared[0]?.changes, {
      description: [null, 'Public again'], enabled: [null, true], internal_only: [null, false], tenants: [null, [acme.id]], percentage: [null, 0]
    })
    t2.notOk((await logBody(acme)).body.includes('Still secret'))
  })
})

t.test('GET /v1/admin/flags lists every flag by key, page by page, for staff only', async tt => {
  for (const key of ['list-c', 'list-a', 'list-b']) await putFlag(appA, staff.acmeToken, key, body())
  const seen: string[] = []
  let cursor: string | null = null
  for (let page = 0; page < 100; page++) {
    const response = await get(appA, staff.globexToken, `/v1/admin/flags?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`)
    tt.equal(response.statusCode, 200)
    const listed = response.json() as { data: Array<{ key: string }>, next_cursor: string | null }
    tt.ok(listed.data.length <= 2)
    seen.push(...listed.data.map(f => f.key))
    cursor = listed.next_cursor
    if (cursor === null) break
  }
  tt.same(seen, [...seen].sort(), 'ordered by key')
  tt.equal(new Set(seen).size, seen.length, 'no flag twice')
  for (const key of ['list-a', 'list-b', 'list-c', 'scheduled-publishing']) tt.ok(seen.includes(key), `${key} is listed`)

  assertProblem(tt, await get(appA, staff.acmeToken, '/v1/admin/flags?limit=0'), 400, 'validation_failed')
  assertProblem(tt, await get(appA, staff.acmeToken, '/v1/admin/flags?cursor=%21%21'), 400, 'validation_failed')
  assertProblem(tt, await get(appA, acme.owner.token, '/v1/admin/flags'), 403, 'forbidden')
})

t.test('GET /v1/features', async tt => {
  tt.test('the seeded scheduled-publishing flag is listed, off at 0% for an ordinary tenant', async t2 => {
    t2.equal((await features(appA, acme.viewer.token))['scheduled-publishing'], false)
  })

  tt.test('a listed tenant has the flag on, another tenant off', async t2 => {
    await putFlag(appA, staff.acmeToken, 'listed-beta', body({ tenants: [acme.id] }))
    t2.equal((await features(appA, acme.viewer.token))['listed-beta'], true)
    t2.equal((await features(appA, globex.viewer.token))['listed-beta'], false)
  })

  tt.test('internal_only flags are visible to staff only', async t2 => {
    await putFlag(appA, staff.acmeToken, 'internal-tool', body({ internal_only: true, tenants: [acme.id], percentage: 100 }))
    const member = await features(appA, acme.owner.token)
    t2.notOk('internal-tool' in member, 'a listed tenant\'s owner does not even learn the key')
    t2.equal((await features(appA, staff.acmeToken))['internal-tool'], true)
    t2.equal((await features(appA, staff.globexToken))['internal-tool'], true, 'staff get it in any tenant')
    t2.equal((await features(appA, staff.acmeToken))['listed-beta'], true)
    t2.equal((await features(appA, staff.globexToken))['listed-beta'], true, 'staff get every enabled flag')
  })

  tt.test('it is a tenant route for members: no tenant is 400, another tenant is 404', async t2 => {
    const unbound = await tokenFor(appA, acme.viewer.email)
    assertProblem(t2, await get(appA, unbound, '/v1/features'), 400, 'tenant_required')
    const elsewhere = await appA.inject({ method: 'GET', url: '/v1/features', headers: { ...bearer(unbound), 'x-tenant': globex.slug } })
    assertProblem(t2, elsewhere, 404, 'tenant_not_found')
  })
})

t.test('a route with config.feature', async tt => {
  tt.test('answers 403 feature_not_enabled while the flag is off for the caller, 200 once on', async t2 => {
    assertProblem(t2, await get(appA, acme.viewer.token, '/v1/probe/gated'), 403, 'feature_not_enabled')
    await putFlag(appA, staff.acmeToken, 'probe-gate', body({ tenants: [acme.id] }))
    t2.equal((await get(appA, acme.viewer.token, '/v1/probe/gated')).statusCode, 200)
    assertProblem(t2, await get(appA, globex.viewer.token, '/v1/probe/gated'), 403, 'feature_not_enabled')
    t2.equal((await get(appA, staff.globexToken, '/v1/probe/gated')).statusCode, 200, 'staff pass in an unlisted tenant')
  })

  tt.test('checks the permission first: a viewer on a writers-only gated route is forbidden', async t2 => {
    assertProblem(t2, await get(appA, globex.viewer.token, '/v1/probe/gated-writers'), 403, 'forbidden')
    assertProblem(t2, await get(appA, globex.editor.token, '/v1/probe/gated-writers'), 403, 'feature_not_enabled')
    t2.equal((await get(appA, acme.editor.token, '/v1/probe/gated-writers')).statusCode, 200)
  })

  tt.test('an internal_only flag opens the route for staff only', async t2 => {
    await putFlag(appA, staff.acmeToken, 'probe-internal', body({ internal_only: true, tenants: [acme.id], percentage: 100 }))
    assertProblem(t2, await get(appA, acme.owner.token, '/v1/probe/internal'), 403, 'feature_not_enabled')
    t2.equal((await get(appA, staff.acmeToken, '/v1/probe/internal')).statusCode, 200)
  })
})

/** Polls every 50 ms until `done` holds or the time is up; returns whether it held and when. */
async function within (timeoutMs: number, done: () => Promise<boolean>): Promise<{ held: boolean, afterMs: number }> {
  const started = Date.now()
  while (Date.now() - started <= timeoutMs) {
    if (await done()) return { held: true, afterMs: Date.now() - started }
    await sleep(50)
  }
  return { held: false, afterMs: Date.now() - started }
}

t.test('a change made through one instance takes effect on the other within 5 s', async tt => {
  tt.notOk('cross-instance' in await features(appB, globex.viewer.token), 'instance B does not know the flag yet')

  tt.equal((await putFlag(appA, staff.acmeToken, 'cross-instance', body({ tenants: [globex.id] }))).statusCode, 200)
  const on = await within(5_000, async () => (await features(appB, globex.viewer.token))['cross-instance'] === true)
  tt.ok(on.held, `instance B turned it on after ${on.afterMs} ms`)

  tt.equal((await putFlag(appB, staff.globexToken, 'cross-instance', body({ enabled: false, tenants: [globex.id] }))).statusCode, 200)
  const off = await within(5_000, async () => (await features(appA, globex.viewer.token))['cross-instance'] === false)
  tt.ok(off.held, `instance A turned it off after ${off.afterMs} ms`)
})

t.test('a gated route on the other instance opens within 5 s of the change', async tt => {
  await putFlag(appA, staff.acmeToken, 'probe-gate', body({ tenants: [acme.id] }))
  assertProblem(tt, await get(appB, globex.viewer.token, '/v1/probe/gated'), 403, 'feature_not_enabled')
  await putFlag(appA, staff.acmeToken, 'probe-gate', body({ tenants: [acme.id, globex.id] }))
  const open = await within(5_000, async () => (await get(appB, globex.viewer.token, '/v1/probe/gated')).statusCode === 200)
  tt.ok(open.held, `instance B let the tenant in after ${open.afterMs} ms`)
})
