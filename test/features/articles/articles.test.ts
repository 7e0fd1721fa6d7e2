import t, { type Test } from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { clientOf, expectInvalid, expectProblem, type Client } from '../../helpers/http.ts'
import { cursorOf, impossibleCursors } from '../../helpers/cursors.ts'
import { withSql } from '../../helpers/sql.ts'
import { createTenant, enableFeature, relaxedAuthLimits, type TestTenant } from '../../helpers/tenants.ts'
import type { Role } from '../../../src/features/tenancy/permissions.ts'

/** Every route of API.md's Articles section, for every role. */
const { app, db } = await buildTestApp(t, { env: relaxedAuthLimits })
const tenant = await createTenant(app)
const roles: Role[] = ['owner', 'admin', 'editor', 'viewer']
const as = (role: Role, of: TestTenant = tenant): Client => clientOf(app, of[role].token)

interface ArticleJson {
  id: string
  title: string
  body: string
  status: 'draft' | 'scheduled' | 'published'
  tags: string[]
  author: { id: string, name: string }
  publish_at: string | null
  published_at: string | null
  created_at: string
  updated_at: string
}
const articleFields = ['author', 'body', 'created_at', 'id', 'publish_at', 'published_at', 'status', 'tags', 'title', 'updated_at']
const missingId = '01890a5d-ac96-774b-bcce-b302099a8057'

const articleOf = (response: { json: () => unknown }) => (response.json() as { article: ArticleJson }).article
const listOf = (response: { json: () => unknown }) => response.json() as { data: ArticleJson[], next_cursor: string | null }

async function create (role: Role, payload: object = { title: `By ${role}` }, of: TestTenant = tenant): Promise<ArticleJson> {
  const response = await as(role, of).post('/v1/articles', payload)
  if (response.statusCode !== 201) throw new Error(`create as ${role}: ${response.statusCode} ${response.body}`)
  return articleOf(response)
}

/** Exactly the documented fields, nothing leaks. */
function assertShape (tt: Test, article: ArticleJson, label: string): void {
  tt.same(Object.keys(article).sort(), articleFields, `${label}: exactly the documented fields`)
  tt.same(Object.keys(article.author).sort(), ['id', 'name'], `${label}: author is { id, name }`)
}

t.test('create: a draft with the documented fields, for editors and up', async tt => {
  for (const role of ['owner', 'admin', 'editor'] as const) {
    const response = await as(role).post('/v1/articles', { title: `Hello from ${role}`, body: 'Text', tags: ['intro'] })
    tt.equal(response.statusCode, 201, `${role} creates`)
    tt.same(Object.keys(response.json()), ['article'])
    const article = articleOf(response)
    assertShape(tt, article, role)
    tt.match(article, {
      title: `Hello from ${role}`,
      body: 'Text',
      status: 'draft',
      tags: ['intro'],
      author: { id: tenant[role].id, name: tenant[role].name },
      publish_at: null,
      published_at: null
    })
    tt.match(article.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'a UUIDv7 id')
    tt.ok(Number.isFinite(Date.parse(article.created_at)) && article.created_at.endsWith('Z'), 'created_at in UTC')
    tt.equal(article.updated_at, article.created_at)
  }
  expectProblem(tt, await as('viewer').post('/v1/articles', { title: 'Nope' }), 403, 'forbidden', 'a viewer may not create')
  const minimal = await create('editor', { title: 'Only a title' })
  tt.equal(minimal.body, '', 'body defaults to empty')
  tt.same(minimal.tags, [], 'tags default to none')
})

t.test('create: title trimmed, tags merged in first order, limits enforced', async tt => {
  const editor = as('editor')
  tt.equal((await create('editor', { title: '   Spaced out   ' })).title, 'Spaced out')
  tt.same((await create('editor', { title: 'Tags', tags: ['b', 'a', 'b', 'c', 'a', ' c '] })).tags, ['b', 'a', 'c'])
  const tenDistinct = Array.from({ length: 10 }, (_, i) => `tag-${i}`)
  tt.same((await create('editor', { title: 'Ten', tags: [...tenDistinct, 'tag-0', 'tag-9'] })).tags, tenDistinct,
    'ten distinct tags with duplicates is fine: counted after merging')
  tt.equal((await create('editor', { title: 'x'.repeat(200), body: 'b'.repeat(100_000) })).title.length, 200, 'the maximal title and body')

  expectInvalid(tt, await editor.post('/v1/articles', { title: 'Eleven', tags: [...tenDistinct, 'tag-10'] }), '/tags', 'eleven distinct tags')
  for (const tag of ['Upper', 'has space', 'under_score', 'ümlaut', '', 'x'.repeat(33)]) {
    expectInvalid(tt, await editor.post('/v1/articles', { title: 'Bad tag', tags: [tag] }), '/tags/0', `tag ${JSON.stringify(tag)}`)
  }
  expectInvalid(tt, await editor.post('/v1/articles', { title: '   ' }), '/title', 'blank title')
  expectInvalid(tt, await editor.post('/v1/articles', { title: 'x'.repeat(201) }), '/title', 'title of 201 chars')
  expectInvalid(tt, await editor.post('/v1/articles', { body: 'no title' }), '/title', 'title missing')
  expectInvalid(tt, await editor.post('/v1/articles', { title: 'Long', body: 'b'.repeat(100_001) }), '/body', 'body over 100,000 chars')
  expectInvalid(tt, await editor.post('/v1/articles', { title: 'Sneaky', status: 'published' }), '/status', 'unknown property')
  expectInvalid(tt, await editor.post('/v1/articles', { title: 'Sneaky', author_id: tenant.owner.id }), '/author_id', 'no choosing the author')
  const stored = await withSql(db.ownerUrl, sql => sql`select count(*)::int as n from articles where title in ('Eleven', 'Bad tag', 'Sneaky', 'Long')`)
  tt.equal(stored[0]?.n, 0, 'nothing invalid was stored')
})

t.test('get: every member reads every article in every status', async tt => {
  const draft = await create('editor', { title: 'Draft of the editor' })
  const published = await create('admin', { title: 'To be published' })
  tt.equal((await as('admin').post(`/v1/articles/${published.id}/publish`)).statusCode, 200)
  for (const role of roles) {
    for (const article of [draft, published]) {
      const response = await as(role).get(`/v1/articles/${article.id}`)
      tt.equal(response.statusCode, 200, `${role} reads ${article.title}`)
      assertShape(tt, articleOf(response), `GET as ${role}`)
      tt.equal(articleOf(response).id, article.id)
    }
  }
  expectProblem(tt, await as('viewer').get(`/v1/articles/${missingId}`), 404, 'not_found', 'an unknown id')
  expectInvalid(tt, await as('viewer').get('/v1/articles/not-a-uuid'), '/id', 'a non-UUID id')
})

t.test("another tenant's article is 404 not_found, never 403", async tt => {
  const elsewhere = await createTenant(app)
  const foreign = await create('editor', { title: 'Foreign' }, elsewhere)
  for (const role of roles) {
    expectProblem(tt, await as(role).get(`/v1/articles/${foreign.id}`), 404, 'not_found', `GET as ${role}`)
  }
  expectProblem(tt, await as('owner').patch(`/v1/articles/${foreign.id}`, { title: 'Mine now' }), 404, 'not_found', 'PATCH')
  expectProblem(tt, await as('owner').delete(`/v1/articles/${foreign.id}`), 404, 'not_found', 'DELETE')
  expectProblem(tt, await as('owner').post(`/v1/articles/${foreign.id}/publish`), 404, 'not_found', 'publish')
  expectProblem(tt, await as('editor').patch(`/v1/articles/${foreign.id}`, { title: 'Mine now' }), 404, 'not_found',
    'an editor gets 404, not the 403 of the authorship rule')
  tt.equal(articleOf(await as('viewer', elsewhere).get(`/v1/articles/${foreign.id}`)).title, 'Foreign', 'untouched')
})

t.test('patch: editors change their own, admins and owners any, viewers none', async tt => {
  const ofEditor = await create('editor', { title: 'Editor draft', body: 'Body', tags: ['one'] })
  const ofAdmin = await create('admin', { title: 'Admin draft' })

  const own = await as('editor').patch(`/v1/articles/${ofEditor.id}`, { title: '  Renamed  ', tags: ['two', 'two', 'one'] })
  tt.equal(own.statusCode, 200, 'an editor changes its own')
  const renamed = articleOf(own)
  assertShape(tt, renamed, 'PATCH')
  tt.equal(renamed.title, 'Renamed', 'trimmed')
  tt.same(renamed.tags, ['two', 'one'], 'merged')
  tt.equal(renamed.body, 'Body', 'an absent field stays')
  tt.ok(Date.parse(renamed.updated_at) >= Date.parse(ofEditor.updated_at), 'updated_at moves forward')
  tt.equal(renamed.created_at, ofEditor.created_at, 'created_at stays')

  expectProblem(tt, await as('editor').patch(`/v1/articles/${ofAdmin.id}`, { title: 'Hijack' }), 403, 'forbidden', "an editor on another's article")
  expectProblem(tt, await as('viewer').patch(`/v1/articles/${ofEditor.id}`, { title: 'Viewer edit' }), 403, 'forbidden', 'a viewer')
  for (const role of ['admin', 'owner'] as const) {
    const response = await as(role).patch(`/v1/articles/${ofEditor.id}`, { body: `edited by ${role}` })
    tt.equal(response.statusCode, 200, `${role} changes an editor's article`)
    tt.equal(articleOf(response).body, `edited by ${role}`)
    tt.equal(articleOf(response).author.id, tenant.editor.id, 'the author stays the author')
  }
  tt.equal(articleOf(await as('viewer').get(`/v1/articles/${ofAdmin.id}`)).title, 'Admin draft', 'the refused change left nothing')
})

t.test('patch: validation', async tt => {
  const article = await create('editor', { title: 'Validated' })
  const editor = as('editor')
  expectInvalid(tt, await editor.patch(`/v1/articles/${article.id}`, {}), '/', 'no field')
  expectInvalid(tt, await editor.patch(`/v1/articles/${article.id}`, { status: 'published' }), '/status', 'unknown property')
  expectInvalid(tt, await editor.patch(`/v1/articles/${article.id}`, { title: '' }), '/title', 'empty title')
  expectInvalid(tt, await editor.patch(`/v1/articles/${article.id}`, { tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }), '/tags', 'eleven tags')
  expectInvalid(tt, await editor.patch(`/v1/articles/${article.id}`, { tags: ['OK'] }), '/tags/0', 'a bad tag')
  expectInvalid(tt, await editor.patch('/v1/articles/123', { title: 'x' }), '/id', 'a non-UUID id')
  expectProblem(tt, await editor.patch(`/v1/articles/${missingId}`, { title: 'x' }), 404, 'not_found', 'an unknown id')
  tt.equal(articleOf(await editor.get(`/v1/articles/${article.id}`)).title, 'Validated')
})

t.test('delete: 204, then 404 everywhere', async tt => {
  const ofEditor = await create('editor', { title: 'Doomed' })
  const ofOwner = await create('owner', { title: 'Owner keeps this' })
  expectProblem(tt, await as('viewer').delete(`/v1/articles/${ofEditor.id}`), 403, 'forbidden', 'a viewer')
  expectProblem(tt, await as('editor').delete(`/v1/articles/${ofOwner.id}`), 403, 'forbidden', "an editor on another's")

  const response = await as('editor').delete(`/v1/articles/${ofEditor.id}`)
  tt.equal(response.statusCode, 204, 'an editor deletes its own')
  tt.equal(response.body, '')
  expectProblem(tt, await as('editor').get(`/v1/articles/${ofEditor.id}`), 404, 'not_found', 'GET after delete')
  expectProblem(tt, await as('editor').patch(`/v1/articles/${ofEditor.id}`, { title: 'Back' }), 404, 'not_found', 'PATCH after delete')
  expectProblem(tt, await as('editor').post(`/v1/articles/${ofEditor.id}/publish`), 404, 'not_found', 'publish after delete')
  expectProblem(tt, await as('editor').delete(`/v1/articles/${ofEditor.id}`), 404, 'not_found', 'DELETE again')
  const list = listOf(await as('viewer').get('/v1/articles?limit=100'))
  tt.notOk(list.data.some(article => article.id === ofEditor.id), 'not listed')

  for (const role of ['admin', 'owner'] as const) {
    const victim = await create('editor', { title: `Removed by ${role}` })
    tt.equal((await as(role).delete(`/v1/articles/${victim.id}`)).statusCode, 204, `${role} deletes an editor's article`)
  }
  tt.equal((await as('owner').get(`/v1/articles/${ofOwner.id}`)).statusCode, 200, 'the refused delete left it')
})

t.test('publish: 200 published; publishing again changes nothing', async tt => {
  const article = await create('editor', { title: 'News' })
  expectProblem(tt, await as('viewer').post(`/v1/articles/${article.id}/publish`), 403, 'forbidden', 'a viewer')
  const ofAdmin = await create('admin', { title: 'Admin news' })
  expectProblem(tt, await as('editor').post(`/v1/articles/${ofAdmin.id}/publish`), 403, 'forbidden', "an editor on another's")

  const first = await as('editor').post(`/v1/articles/${article.id}/publish`)
  tt.equal(first.statusCode, 200)
  const published = articleOf(first)
  assertShape(tt, published, 'publish')
  tt.equal(published.status, 'published')
  tt.ok(published.published_at !== null && Number.isFinite(Date.parse(published.published_at)), 'published_at is set')
  tt.ok(Date.parse(published.updated_at) >= Date.parse(article.updated_at))

  const second = await as('editor').post(`/v1/articles/${article.id}/publish`)
  tt.equal(second.statusCode, 200, 'publishing a published article is 200')
  tt.same(articleOf(second), published, 'and changes nothing: same published_at and updated_at')
  tt.same(articleOf(await as('viewer').get(`/v1/articles/${article.id}`)), published, 'as stored')

  for (const role of ['admin', 'owner'] as const) {
    const draft = await create('editor', { title: `Published by ${role}` })
    const response = await as(role).post(`/v1/articles/${draft.id}/publish`)
    tt.equal(response.statusCode, 200, `${role} publishes an editor's article`)
    tt.equal(articleOf(response).status, 'published')
  }
  expectProblem(tt, await as('editor').post(`/v1/articles/${missingId}/publish`), 404, 'not_found', 'an unknown id')
})

t.test('schedule: gated by the scheduled-publishing flag', async tt => {
  const gated = await createTenant(app)
  const draft = await create('editor', { title: 'Later' }, gated)
  const future = new Date(Date.now() + 3_600_000).toISOString()
  const off = await as('editor', gated).post(`/v1/articles/${draft.id}/schedule`, { publish_at: future })
  expectProblem(tt, off, 403, 'feature_not_enabled', 'flag off for the tenant')
  expectProblem(tt, await as('owner', gated).post(`/v1/articles/${missingId}/schedule`, { publish_at: future }), 403, 'feature_not_enabled',
    'checked before the article is looked up')
  expectProblem(tt, await as('viewer', gated).post(`/v1/articles/${draft.id}/schedule`, { publish_at: future }), 403, 'forbidden',
    'a viewer lacks the permission whatever the flag')
  tt.equal(articleOf(await as('viewer', gated).get(`/v1/articles/${draft.id}`)).status, 'draft', 'still a draft')

  await enableFeature(app, 'scheduled-publishing', [gated.id])
  const on = await as('editor', gated).post(`/v1/articles/${draft.id}/schedule`, { publish_at: future })
  tt.equal(on.statusCode, 200, 'on for the tenant: scheduled')
  const other = await create('editor', { title: 'Other tenant' })
  expectProblem(tt, await as('editor').post(`/v1/articles/${other.id}/schedule`, { publish_at: future }), 403, 'feature_not_enabled',
    'still off for a tenant the flag does not list')
})

t.test('schedule: status, time, rescheduling, conflicts and the authorship rule', async tt => {
  const scheduler = await createTenant(app)
  await enableFeature(app, 'scheduled-publishing', [scheduler.id])
  const editor = as('editor', scheduler)
  const article = await create('editor', { title: 'Scheduled' }, scheduler)
  const inAnHour = new Date(Date.now() + 3_600_000)
  const inTwoHours = new Date(Date.now() + 7_200_000)

  const first = await editor.post(`/v1/articles/${article.id}/schedule`, { publish_at: inAnHour.toISOString() })
  tt.equal(first.statusCode, 200)
  const scheduled = articleOf(first)
  assertShape(tt, scheduled, 'schedule')
  tt.equal(scheduled.status, 'scheduled')
  tt.equal(Date.parse(scheduled.publish_at ?? ''), inAnHour.getTime(), 'publish_at as asked')
  tt.equal(scheduled.published_at, null, 'not published yet')

  const again = await editor.post(`/v1/articles/${article.id}/schedule`, { publish_at: inTwoHours.toISOString() })
  tt.equal(again.statusCode, 200, 'scheduling again')
  tt.equal(Date.parse(articleOf(again).publish_at ?? ''), inTwoHours.getTime(), 'replaces the earlier time')
  tt.equal(articleOf(await editor.get(`/v1/articles/${article.id}`)).status, 'scheduled')

  const past = new Date(Date.now() - 60_000).toISOString()
  expectInvalid(tt, await editor.post(`/v1/articles/${article.id}/schedule`, { publish_at: past }), '/publish_at', 'a time in the past')
  expectInvalid(tt, await editor.post(`/v1/articles/${article.id}/schedule`, { publish_at: 'tomorrow' }), '/publish_at', 'not a date-time')
  expectInvalid(tt, await editor.post(`/v1/articles/${article.id}/schedule`, {}), '/publish_at', 'publish_at missing')
  expectInvalid(tt, await editor.post(`/v1/articles/${article.id}/schedule`, { publish_at: inAnHour.toISOString(), x: 1 }), '/x', 'unknown property')
  tt.equal(Date.parse(articleOf(await editor.get(`/v1/articles/${article.id}`)).publish_at ?? ''), inTwoHours.getTime(), 'refusals changed nothing')

  const ofAdmin = await create('admin', { title: 'Admin plans' }, scheduler)
  expectProblem(tt, await editor.post(`/v1/articles/${ofAdmin.id}/schedule`, { publish_at: inAnHour.toISOString() }), 403, 'forbidden',
    "an editor on another's")
  for (const role of ['admin', 'owner'] as const) {
    const response = await as(role, scheduler).post(`/v1/articles/${article.id}/schedule`, { publish_at: inAnHour.toISOString() })
    tt.equal(response.statusCode, 200, `${role} schedules an editor's article`)
  }

  const published = await create('editor', { title: 'Already out' }, scheduler)
  tt.equal((await editor.post(`/v1/articles/${published.id}/publish`)).statusCode, 200)
  expectProblem(tt, await editor.post(`/v1/articles/${published.id}/schedule`, { publish_at: inAnHour.toISOString() }), 409, 'conflict',
    'an already published article')
  expectProblem(tt, await editor.post(`/v1/articles/${missingId}/schedule`, { publish_at: inAnHour.toISOString() }), 404, 'not_found',
    'an unknown id')

  const publishedNow = await editor.post(`/v1/articles/${article.id}/publish`)
  tt.equal(articleOf(publishedNow).status, 'published', 'a scheduled article can be published at once')
})

t.test('list: every member, newest first, documented fields', async tt => {
  const lister = await createTenant(app)
  const made: ArticleJson[] = []
  for (const role of ['editor', 'admin', 'owner', 'editor'] as const) made.push(await create(role, { title: `${role} ${made.length}` }, lister))
  for (const role of roles) {
    const response = await as(role, lister).get('/v1/articles')
    tt.equal(response.statusCode, 200, `${role} lists`)
    const body = listOf(response)
    tt.same(Object.keys(body).sort(), ['data', 'next_cursor'])
    tt.same(body.data.map(a => a.id), made.map(a => a.id).reverse(), `${role}: newest first`)
    tt.equal(body.next_cursor, null)
    for (const article of body.data) assertShape(tt, article, 'list item')
  }
})

t.test('list: filters by status, tag and author, alone and together', async tt => {
  const filtered = await createTenant(app)
  const e1 = await create('editor', { title: 'e1', tags: ['news', 'tech'] }, filtered)
  await create('editor', { title: 'e2', tags: ['tech'] }, filtered)
  await create('admin', { title: 'a1', tags: ['news'] }, filtered)
  const o1 = await create('owner', { title: 'o1' }, filtered)
  for (const article of [e1, o1]) tt.equal((await as('owner', filtered).post(`/v1/articles/${article.id}/publish`)).statusCode, 200)

  const viewer = as('viewer', filtered)
  const titlesFor = async (query: string) => {
    const response = await viewer.get(`/v1/articles?${query}`)
    tt.equal(response.statusCode, 200, query)
    return listOf(response).data.map(article => article.title)
  }
  tt.same(await titlesFor('status=published'), ['o1', 'e1'])
  tt.same(await titlesFor('status=draft'), ['a1', 'e2'])
  tt.same(await titlesFor('status=scheduled'), [])
  tt.same(await titlesFor('tag=news'), ['a1', 'e1'])
  tt.same(await titlesFor('tag=tech'), ['e2', 'e1'])
  tt.same(await titlesFor('tag=nothing'), [])
  tt.same(await titlesFor(`author_id=${filtered.editor.id}`), ['e2', 'e1'])
  tt.same(await titlesFor(`author_id=${filtered.viewer.id}`), [])
  tt.same(await titlesFor('tag=tech&status=published'), ['e1'])
  tt.same(await titlesFor(`tag=news&author_id=${filtered.admin.id}`), ['a1'])
  tt.same(await titlesFor(`status=draft&author_id=${filtered.editor.id}&tag=tech`), ['e2'])
  tt.same(await titlesFor('status=published&tag=news&limit=1'), ['e1'])

  // a filter keeps applying on the next page
  const first = listOf(await viewer.get('/v1/articles?tag=tech&limit=1'))
  tt.same(first.data.map(a => a.title), ['e2'])
  tt.type(first.next_cursor, 'string')
  const second = listOf(await viewer.get(`/v1/articles?tag=tech&limit=1&cursor=${first.next_cursor}`))
  tt.same(second.data.map(a => a.title), ['e1'])
  if (second.next_cursor !== null) {
    tt.same(listOf(await viewer.get(`/v1/articles?tag=tech&limit=1&cursor=${second.next_cursor}`)).data, [], 'nothing after the last')
  }
})

t.test('list: bad parameters are 400 validation_failed', async tt => {
  const viewer = as('viewer')
  expectInvalid(tt, await viewer.get('/v1/articles?status=archived'), '/status', 'unknown status')
  expectInvalid(tt, await viewer.get('/v1/articles?author_id=42'), '/author_id', 'author_id not a UUID')
  expectInvalid(tt, await viewer.get('/v1/articles?tag=Not%20A%20Tag'), '/tag', 'tag breaking the pattern')
  expectInvalid(tt, await viewer.get('/v1/articles?limit=0'), '/limit', 'limit=0')
  expectInvalid(tt, await viewer.get('/v1/articles?limit=101'), '/limit', 'limit=101')
  expectInvalid(tt, await viewer.get('/v1/articles?limit=1.5'), '/limit', 'a fractional limit')
  expectInvalid(tt, await viewer.get('/v1/articles?cursor=%%%'), '/cursor', 'an unreadable cursor')
  const forged = cursorOf('2024-01-01T00:00:00Z', 'not-a-uuid')
  expectInvalid(tt, await viewer.get(`/v1/articles?cursor=${forged}`), '/cursor', 'a cursor with a bad id')
  tt.equal((await viewer.get('/v1/articles?limit=100&sort=asc')).statusCode, 200, 'unknown query parameters are ignored')
})

t.test('list: a cursor naming an impossible instant is 400 validation_failed, never a 500', async tt => {
  for (const { label, cursor } of impossibleCursors) {
    expectInvalid(tt, await as('viewer').get(`/v1/articles?cursor=${cursor}`), '/cursor', label)
  }
})

/** Walks every page with `limit`, calling `between` after each page; returns the ids in order. */
async function walk (client: Client, limit: number, between: (page: number) => Promise<void>): Promise<string[]> {
  const ids: string[] = []
  let cursor: string | null = null
  for (let page = 1; page <= 50; page++) {
    const response = await client.get(`/v1/articles?limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}`)
    if (response.statusCode !== 200) throw new Error(`page ${page}: ${response.statusCode} ${response.body}`)
    const body = listOf(response)
    ids.push(...body.data.map(article => article.id))
    cursor = body.next_cursor
    if (cursor === null) return ids
    await between(page)
  }
  throw new Error('the walk did not end within 50 pages')
}

t.test('pagination: no duplicates or gaps while articles are being added', async tt => {
  const busy = await createTenant(app)
  // created concurrently, so that several share a millisecond and the keyset has ties to get right
  await Promise.all(Array.from({ length: 24 }, (_, i) => create(i % 2 === 0 ? 'editor' : 'admin', { title: `seed ${i}` }, busy)))
  const snapshot = listOf(await as('viewer', busy).get('/v1/articles?limit=100')).data.map(a => a.id)
  tt.equal(snapshot.length, 24)

  const added: string[] = []
  const inserts: Array<Promise<void>> = []
  const addTwo = async (): Promise<void> => {
    const made = await Promise.all([create('editor', { title: 'late' }, busy), create('owner', { title: 'late' }, busy)])
    added.push(...made.map(article => article.id))
  }
  // after each page: two inserts that finish before the next fetch, and two that race with it
  const walked = await walk(as('viewer', busy), 5, async () => {
    await addTwo()
    inserts.push(addTwo())
  })
  await Promise.all(inserts)
  tt.same(walked, snapshot, 'the pages hold exactly the articles that existed when the walk began, in order')
  tt.equal(new Set(walked).size, walked.length, 'no duplicates')
  tt.ok(added.length >= 16, `articles were added during the walk (${added.length})`)

  const after = listOf(await as('viewer', busy).get('/v1/articles?limit=100')).data.map(a => a.id)
  tt.same(new Set(after.slice(0, added.length)), new Set(added), 'the new ones are at the top')
  tt.same(after.slice(added.length), snapshot, 'followed by the original order')
})

t.test('pagination: articles created within the same millisecond are each listed once', async tt => {
  const crowded = await createTenant(app)
  // a burst of inserts lands within one millisecond; the stored timestamps keep microseconds
  // (sent as text: postgres.js would cut a timestamp parameter to milliseconds)
  const times = ['2025-03-01T12:00:00.123900Z', '2025-03-01T12:00:00.123700Z', '2025-03-01T12:00:00.123500Z',
    '2025-03-01T12:00:00.123300Z', '2025-03-01T12:00:00.123100Z', '2025-03-01T12:00:00.122999Z']
  const inserted = await withSql(db.ownerUrl, sql => sql.begin(async tx => {
    const ids: string[] = []
    for (const [i, time] of times.entries()) {
      const [row] = await tx`insert into articles (tenant_id, author_id, title, created_at, updated_at)
        values (${crowded.id}, ${crowded.editor.id}, ${`burst ${i}`}, ${time}::text::timestamptz, ${time}::text::timestamptz) returning id`
      ids.push(row?.id as string)
    }
    return ids
  }))
  const everything = listOf(await as('viewer', crowded).get('/v1/articles?limit=100')).data.map(a => a.id)
  tt.same([...everything].sort(), [...inserted].sort(), 'one page holds all six')
  for (const limit of [1, 2, 4]) {
    const walked = await walk(as('viewer', crowded), limit, async () => {})
    tt.same(walked, everything, `limit=${limit}: all six, in the order of the single page, once each`)
  }
})
