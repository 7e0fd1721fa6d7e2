import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../../helpers/app.ts'
import { clientOf, expectProblem, type Client, type Reply } from '../../helpers/http.ts'
import { addMember, createTenant, relaxedAuthLimits, type TestTenant } from '../../helpers/tenants.ts'
import { bearer } from '../../helpers/users.ts'
import { notModified } from '../../../src/http/revalidation.ts'
import type { Role } from '../../../src/features/tenancy/permissions.ts'

/**
 * API.md Conventions, Revalidation: the article reads send a weak ETag, `Cache-Control: private,
 * no-cache` and `Vary: Authorization, X-Tenant`; a matching If-None-Match is a 304 without a body,
 * and never the answer to a request that would get 401, 403 or 404.
 */

/** a tenant route that only editors and up may read, revalidated like the article reads */
const PROBE_TAG = 'W/"probe"'
async function editorsOnlyProbe (app: FastifyInstance): Promise<void> {
  app.get('/v1/revalidation-probe', { config: { permission: 'articles:write', tenant: true } }, async (request, reply) =>
    notModified(request, reply, PROBE_TAG) ? reply : { ok: true })
}

const { app } = await buildTestApp(t, { env: relaxedAuthLimits, extraPlugins: [editorsOnlyProbe] })
const tenant = await createTenant(app)
const other = await createTenant(app)
const as = (role: Role, of: TestTenant = tenant): Client => clientOf(app, of[role].token)

const created = await as('editor').post('/v1/articles', { title: 'Cached', body: 'Once' })
const article = (created.json() as { article: { id: string } }).article
const articleUrl = `/v1/articles/${article.id}`
const listUrl = '/v1/articles?limit=5'

/** the headers every revalidated answer carries, 200 and 304 alike */
function assertRevalidationHeaders (tt: Test, response: Reply, label: string): string {
  const etag = response.headers.etag
  tt.match(etag, /^W\/"[^"]+"$/, `${label}: a weak ETag`)
  tt.equal(response.headers['cache-control'], 'private, no-cache', `${label}: Cache-Control`)
  tt.equal(response.headers.vary, 'Authorization, X-Tenant', `${label}: Vary`)
  return String(etag)
}

function assertNotModified (tt: Test, response: Reply, etag: string, label: string): void {
  tt.equal(response.statusCode, 304, `${label}: 304`)
  tt.equal(response.body, '', `${label}: no body`)
  tt.equal(response.headers['content-length'], undefined, `${label}: no Content-Length`)
  tt.equal(assertRevalidationHeaders(tt, response, label), etag, `${label}: the same ETag`)
}

for (const [what, url] of [['an article', articleUrl], ['a list page', listUrl]] as const) {
  t.test(`${what}: 200 with ETag, Cache-Control and Vary; If-None-Match with that tag is a 304 without a body`, async tt => {
    const first = await as('viewer').get(url)
    tt.equal(first.statusCode, 200)
    tt.ok(first.body.length > 0, 'a body')
    const etag = assertRevalidationHeaders(tt, first, '200')

    assertNotModified(tt, await as('viewer').get(url, { 'if-none-match': etag }), etag, 'same caller')
    assertNotModified(tt, await as('owner').get(url, { 'if-none-match': etag }), etag, 'another member of the tenant')
    assertNotModified(tt, await as('viewer').get(url, { 'if-none-match': `"stale", ${etag.slice(2)}` }), etag, 'a list naming the tag (strong form)')
    assertNotModified(tt, await as('viewer').get(url, { 'if-none-match': '*' }), etag, '*')

    const stale = await as('viewer').get(url, { 'if-none-match': 'W/"not-this-one"' })
    tt.equal(stale.statusCode, 200, 'another tag: 200')
    tt.equal(stale.headers.etag, etag)
    tt.same(stale.json(), first.json(), 'the whole body')
  })
}

t.test('after a PATCH the old tag gets a 200 with the new article and a new tag, for the article and the page', async tt => {
  const before = { article: String((await as('viewer').get(articleUrl)).headers.etag), list: String((await as('viewer').get(listUrl)).headers.etag) }
  const patched = await as('editor').patch(articleUrl, { title: 'Cached, then changed' })
  tt.equal(patched.statusCode, 200)

  for (const [what, url, oldTag] of [['article', articleUrl, before.article], ['list page', listUrl, before.list]] as const) {
    const response = await as('viewer').get(url, { 'if-none-match': oldTag })
    tt.equal(response.statusCode, 200, `${what}: the old tag gets a 200`)
    tt.match(response.body, /Cached, then changed/, `${what}: with the change`)
    const newTag = assertRevalidationHeaders(tt, response, what)
    tt.not(newTag, oldTag, `${what}: a new tag`)
    assertNotModified(tt, await as('viewer').get(url, { 'if-none-match': newTag }), newTag, `${what}: the new tag`)
  }
})

t.test('a new article changes the tag of the first page, and the next page has a tag of its own', async tt => {
  const firstPage = await as('viewer').get('/v1/articles?limit=1')
  const oldTag = String(firstPage.headers.etag)
  const next = (firstPage.json() as { next_cursor: string | null }).next_cursor
  await as('editor').post('/v1/articles', { title: 'Newer' })
  const again = await as('viewer').get('/v1/articles?limit=1', { 'if-none-match': oldTag })
  tt.equal(again.statusCode, 200, 'the first page changed')
  tt.not(again.headers.etag, oldTag)
  tt.equal(next, null, 'there was one article before')
  const secondPage = await as('viewer').get(`/v1/articles?limit=1&cursor=${String((again.json() as { next_cursor: string }).next_cursor)}`)
  tt.equal(secondPage.statusCode, 200)
  tt.not(secondPage.headers.etag, again.headers.etag, 'pages differ, and so do their tags')
})

t.test('revalidation never answers a request that would get 401, 403 or 404', async tt => {
  const etag = String((await as('viewer').get(articleUrl)).headers.etag)
  const listTag = String((await as('viewer').get(listUrl)).headers.etag)
  const ifNoneMatch = { 'if-none-match': etag }

  expectProblem(tt, await clientOf(app, null, { 'x-tenant': tenant.slug }).get(articleUrl, ifNoneMatch), 401, 'unauthenticated', 'no token')
  expectProblem(tt, await as('viewer', other).get(articleUrl, ifNoneMatch), 404, 'not_found', "another tenant's member, in its own tenant")
  expectProblem(tt, await as('viewer', other).get(articleUrl, { ...ifNoneMatch, 'x-tenant': tenant.slug }), 404, 'tenant_not_found',
    "another tenant's member, naming this tenant")
  expectProblem(tt, await clientOf(app, other.viewer.token, { 'x-tenant': tenant.slug }).get(listUrl, { 'if-none-match': listTag }), 404, 'tenant_not_found',
    "another tenant's member, this tenant's list page")

  const removed = await addMember(app, tenant, 'viewer', 'Leaving')
  tt.equal((await clientOf(app, removed.token).get(articleUrl, ifNoneMatch)).statusCode, 304, 'a member gets the 304')
  const removal = await app.inject({ method: 'DELETE', url: `/v1/members/${removed.id}`, headers: bearer(tenant.owner.token) })
  tt.equal(removal.statusCode, 204)
  expectProblem(tt, await clientOf(app, removed.token).get(articleUrl, ifNoneMatch), 404, 'tenant_not_found', 'once removed')

  const deleted = await as('editor').delete(articleUrl)
  tt.equal(deleted.statusCode, 204)
  expectProblem(tt, await as('viewer').get(articleUrl, ifNoneMatch), 404, 'not_found', 'the article deleted')
})

t.test('a member without the permission gets 403, not 304, even with the current tag', async tt => {
  const allowed = await as('editor').get('/v1/revalidation-probe', { 'if-none-match': PROBE_TAG })
  tt.equal(allowed.statusCode, 304, 'an editor (articles:write) gets the 304')
  expectProblem(tt, await as('viewer').get('/v1/revalidation-probe', { 'if-none-match': PROBE_TAG }), 403, 'forbidden', 'a viewer')
})
