import t from 'tap'
import { buildTestApp } from './helpers/app.ts'
import { clientOf, type Client } from './helpers/http.ts'
import { addMember, createTenant, relaxedAuthLimits } from './helpers/tenants.ts'
import { waitFor } from './helpers/wait.ts'
import { membershipKey } from '../src/platform/invalidation.ts'

/**
 * No N+1: a list page costs the same statements whatever its length. Statements are counted with
 * postgres.js's `debug` hook, which its connections read from the pool's shared options on every
 * query, so the app's own pool is observed as it is, with no test-only code path in the app.
 */
const { app } = await buildTestApp(t, { env: relaxedAuthLimits })
const tenant = await createTenant(app)

type DebugHook = (connection: number, query: string, parameters: unknown[], types: unknown[]) => void
const poolOptions = app.sql.options as unknown as { debug: boolean | DebugHook }

/** The statements PostgreSQL received while `work` ran. */
async function statementsDuring (work: () => Promise<unknown>): Promise<string[]> {
  const statements: string[] = []
  const previous = poolOptions.debug
  poolOptions.debug = (_connection, query) => {
    const statement = query.replace(/\s+/g, ' ').trim()
    // the flag store's periodic reload is the one statement no request causes
    if (!/ from feature_flags\b/.test(statement)) statements.push(statement)
  }
  try {
    await work()
  } finally {
    poolOptions.debug = previous
  }
  return statements
}

/** GET the url (warming every cache first), returning the items it listed and the statements it cost. */
async function measure (client: Client, url: string): Promise<{ items: number, statements: string[] }> {
  await client.get(url)
  let items = -1
  const statements = await statementsDuring(async () => {
    const response = await client.get(url)
    if (response.statusCode !== 200) throw new Error(`${url}: ${response.statusCode} ${response.body}`)
    items = (response.json() as { data: unknown[] }).data.length
  })
  return { items, statements }
}

t.test('the counter sees statements (so that equal counts mean something)', async tt => {
  const statements = await statementsDuring(() => app.sql`select 1 as one`)
  tt.same(statements, ['select 1 as one'])
})

t.test('articles: a list of 50 with authors and tags costs what a list of 5 costs', async tt => {
  const authors = [tenant.editor, tenant.admin, tenant.owner, await addMember(app, tenant, 'editor', 'Second Editor')]
  for (let i = 0; i < 55; i++) {
    const author = authors[i % authors.length]!
    const response = await clientOf(app, author.token).post('/v1/articles', { title: `Article ${i}`, tags: [`tag-${i % 7}`, `group-${i % 3}`] })
    if (response.statusCode !== 201) throw new Error(`create: ${response.statusCode} ${response.body}`)
  }
  const viewer = clientOf(app, tenant.viewer.token)
  const five = await measure(viewer, '/v1/articles?limit=5')
  const fifty = await measure(viewer, '/v1/articles?limit=50')
  tt.equal(five.items, 5)
  tt.equal(fifty.items, 50)
  tt.ok(five.statements.length > 0, `the request was observed (${five.statements.length} statements)`)
  tt.equal(fifty.statements.length, five.statements.length, `50 articles: ${fifty.statements.length} statements, 5: ${five.statements.length}`)
  tt.equal(five.statements.length, 1, 'a hot list read is one statement (DESIGN.md)')

  const filtered = await measure(viewer, `/v1/articles?limit=50&tag=tag-1&author_id=${tenant.editor.id}`)
  tt.equal(filtered.statements.length, five.statements.length, 'filters add no statement')
  const firstPage = await viewer.get('/v1/articles?limit=5')
  const nextPage = await measure(viewer, `/v1/articles?limit=50&cursor=${firstPage.json().next_cursor as string}`)
  tt.equal(nextPage.statements.length, five.statements.length, 'a later page costs the same')

  const one = await measure(viewer, '/v1/articles?limit=1')
  const single = (await viewer.get('/v1/articles?limit=1')).json().data[0].id as string
  const get = await statementsDuring(() => viewer.get(`/v1/articles/${single}`))
  tt.equal(get.length, 1, 'GET /v1/articles/:id is one statement')
  tt.equal(one.statements.length, five.statements.length)
})

t.test('audit log: 50 entries cost what 5 cost', async tt => {
  const admin = clientOf(app, tenant.admin.token)
  const five = await measure(admin, '/v1/audit-log?limit=5')
  const fifty = await measure(admin, '/v1/audit-log?limit=50')
  tt.equal(five.items, 5)
  tt.equal(fifty.items, 50)
  tt.ok(five.statements.length > 0)
  tt.equal(fifty.statements.length, five.statements.length, `50 entries: ${fifty.statements.length} statements, 5: ${five.statements.length}`)
})

t.test('members: 12 members with their users cost what 2 cost', async tt => {
  for (let i = 0; i < 8; i++) await addMember(app, tenant, 'viewer', `Viewer ${i}`)
  const viewer = clientOf(app, tenant.viewer.token)
  const two = await measure(viewer, '/v1/members?limit=2')
  const twelve = await measure(viewer, '/v1/members?limit=12')
  tt.equal(two.items, 2)
  tt.equal(twelve.items, 12)
  tt.ok(two.statements.length > 0)
  tt.equal(twelve.statements.length, two.statements.length, `12 members: ${twelve.statements.length} statements, 2: ${two.statements.length}`)
})

t.test('cold caches: 50 concurrent requests of one member look up its user, tenant and membership once each', async tt => {
  const member = await addMember(app, tenant, 'viewer', 'Cold Viewer')
  // in order on one channel: once the membership is dropped, the user and tenant are too
  await app.invalidation.publish('user', member.id)
  await app.invalidation.publish('tenant', tenant.id)
  await app.invalidation.publish('membership', membershipKey(tenant.id, member.id))
  await waitFor('the caches to drop the member', () => app.tenants.peekRole(tenant.id, member.id) === undefined)

  const client = clientOf(app, member.token)
  const statusesOf = async (requests: number) => {
    const responses = await Promise.all(Array.from({ length: requests }, () => client.get('/v1/features')))
    return [...new Set(responses.map(response => response.statusCode))]
  }
  let statuses: number[] = []
  const cold = await statementsDuring(async () => { statuses = await statusesOf(50) })
  tt.same(statuses, [200])
  const count = (pattern: RegExp) => cold.filter(statement => pattern.test(statement)).length
  tt.equal(count(/from users where id/), 1, 'one user lookup')
  tt.equal(count(/from tenants where id/), 1, 'one tenant lookup')
  tt.equal(count(/tenant_membership\(/), 1, 'one membership lookup')
  // postgres.js asks a connection it has just opened for the array types: the driver's, not ours
  const ours = cold.filter(statement => !statement.includes('pg_catalog.pg_type'))
  tt.equal(ours.length, 3, `nothing else: ${ours.join(' | ')}`)

  const warm = await statementsDuring(async () => { statuses = await statusesOf(5) })
  tt.same(statuses, [200])
  tt.same(warm, [], 'once the caches are warm, an authenticated tenant-scoped request sends no statement')
})
