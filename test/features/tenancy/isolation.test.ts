import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { createTenant, relaxedAuthLimits, type TestTenant } from '../../helpers/tenants.ts'
import { bearer } from '../../helpers/users.ts'

/**
 * Tenant isolation, route by route. The tenant-scoped routes are enumerated from the app itself:
 * a new one without an entry in `probes` fails this suite until someone says how B could reach
 * A's data through it.
 */
const { app, db } = await buildTestApp(t, { env: relaxedAuthLimits })
const a = await createTenant(app)
const b = await createTenant(app)

const post = (token: string, url: string, payload: object) => app.inject({ method: 'POST', url, headers: bearer(token), payload })
const articleOfA = (await post(a.editor.token, '/v1/articles', { title: 'Only for A', tags: ['a-only'] })).json().article.id as string
await post(a.owner.token, `/v1/articles/${articleOfA}/publish`, {})
await post(b.editor.token, '/v1/articles', { title: 'B article' })

interface Probe {
  method: string
  url: string
  payload?: object
  /** what B may see instead of A's data: 404 for a resource of A, or a list without A's rows */
  expect: 'not_found' | 'list-without-a' | 'own-tenant'
}

const aIds = new Set<string>([a.id, articleOfA, a.owner.id, a.admin.id, a.editor.id, a.viewer.id])
const future = new Date(Date.now() + 3_600_000).toISOString()

/** How B would try to reach A's data through each tenant-scoped route. */
const probes: Record<string, Probe[]> = {
  'GET /v1/tenant': [{ method: 'GET', url: '/v1/tenant', expect: 'own-tenant' }],
  'GET /v1/members': [{ method: 'GET', url: '/v1/members?limit=100', expect: 'list-without-a' }],
  'POST /v1/members': [],
  'PATCH /v1/members/:user_id': [{ method: 'PATCH', url: `/v1/members/${a.editor.id}`, payload: { role: 'viewer' }, expect: 'not_found' }],
  'DELETE /v1/members/:user_id': [{ method: 'DELETE', url: `/v1/members/${a.viewer.id}`, expect: 'not_found' }],
  'GET /v1/articles': [
    { method: 'GET', url: '/v1/articles?limit=100', expect: 'list-without-a' },
    { method: 'GET', url: '/v1/articles?tag=a-only', expect: 'list-without-a' },
    { method: 'GET', url: `/v1/articles?author_id=${a.editor.id}`, expect: 'list-without-a' }
  ],
  'POST /v1/articles': [],
  'GET /v1/articles/:id': [{ method: 'GET', url: `/v1/articles/${articleOfA}`, expect: 'not_found' }],
  'PATCH /v1/articles/:id': [{ method: 'PATCH', url: `/v1/articles/${articleOfA}`, payload: { title: 'defaced' }, expect: 'not_found' }],
  'DELETE /v1/articles/:id': [{ method: 'DELETE', url: `/v1/articles/${articleOfA}`, expect: 'not_found' }],
  'POST /v1/articles/:id/publish': [{ method: 'POST', url: `/v1/articles/${articleOfA}/publish`, payload: {}, expect: 'not_found' }],
  'POST /v1/articles/:id/schedule': [{ method: 'POST', url: `/v1/articles/${articleOfA}/schedule`, payload: { publish_at: future }, expect: 'not_found' }],
  'GET /v1/audit-log': [
    { method: 'GET', url: '/v1/audit-log?limit=100', expect: 'list-without-a' },
    { method: 'GET', url: `/v1/audit-log?object_id=${articleOfA}`, expect: 'list-without-a' }
  ],
  'GET /v1/features': [],
  'GET /v1/subscription': []
}

const tenantRoutes = app.routeTable.filter(r => r.config.tenant === true && r.method !== 'HEAD').map(r => `${r.method} ${r.url}`)

t.test('every tenant-scoped route has isolation probes', async tt => {
  tt.ok(tenantRoutes.length >= 10, `found ${tenantRoutes.length} tenant-scoped routes`)
  for (const route of tenantRoutes) tt.ok(route in probes, `${route} has an entry in probes`)
})

async function enableSchedulingFor (tenant: TestTenant): Promise<void> {
  const { createSql } = await import('../../../src/platform/db/client.ts')
  const owner = createSql(db.ownerUrl, { max: 1 })
  try {
    const [table] = await owner`select to_regclass('feature_flags') as name`
    if (table?.name) {
      await owner`update feature_flags set enabled = true, tenants = array_append(tenants, ${tenant.id}::uuid) where key = 'scheduled-publishing'`
      await app.invalidation.publish('flags', 'scheduled-publishing')
    }
  } finally {
    await owner.end()
  }
}

t.test("a member of B addressing A's tenant is told the tenant does not exist", async tt => {
  for (const route of tenantRoutes) {
    const [method, url] = route.split(' ') as [string, string]
    const concrete = url.replace(':id', articleOfA).replace(':user_id', a.editor.id)
    const response = await app.inject({
      method: method as 'GET', url: concrete, headers: { ...bearer(b.owner.token), 'x-tenant': a.slug }, payload: method === 'GET' || method === 'DELETE' ? undefined : {}
    })
    tt.equal(response.statusCode, 404, `${route} with X-Tenant of A`)
    tt.equal(response.json().code, 'tenant_not_found', `${route}: tenant_not_found`)
  }
})

t.test("a member of B addressing A's resources in B gets 404 and lists without A's rows", async tt => {
  await enableSchedulingFor(b)
  for (const route of tenantRoutes) {
    for (const probe of probes[route] ?? []) {
      const response = await app.inject({
        method: probe.method as 'GET', url: probe.url, headers: bearer(b.owner.token), ...(probe.payload ? { payload: probe.payload } : {})
      })
      const label = `${probe.method} ${probe.url}`
      if (probe.expect === 'not_found') {
        tt.equal(response.statusCode, 404, `${label}: 404`)
        tt.equal(response.json().code, 'not_found', `${label}: not_found, never 403`)
        continue
      }
      tt.equal(response.statusCode, 200, `${label}: 200`)
      const body = response.body
      for (const id of aIds) tt.notOk(body.includes(id), `${label}: shows nothing of A (${id})`)
      if (probe.expect === 'own-tenant') tt.equal(response.json().tenant.id, b.id)
    }
  }
})

t.test("A's data is untouched", async (tt) => {
  const response = await app.inject({ method: 'GET', url: `/v1/articles/${articleOfA}`, headers: bearer(a.viewer.token) })
  tt.equal(response.statusCode, 200)
  tt.equal(response.json().article.title, 'Only for A')
  tt.equal(response.json().article.status, 'published')
  const members = await app.inject({ method: 'GET', url: '/v1/members', headers: bearer(a.viewer.token) })
  tt.same(members.json().data.map((m: { role: string }) => m.role).sort(), ['admin', 'editor', 'owner', 'viewer'])
})
