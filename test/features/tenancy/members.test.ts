import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { clientOf, expectInvalid, expectProblem } from '../../helpers/http.ts'
import { waitFor } from '../../helpers/wait.ts'
import { cursorOf, impossibleCursors } from '../../helpers/cursors.ts'
import { withSql } from '../../helpers/sql.ts'
import { addMember, createTenant, relaxedAuthLimits, type TestMember } from '../../helpers/tenants.ts'
import { registerUser, tokenFor } from '../../helpers/users.ts'

/** GET/POST/PATCH/DELETE /v1/members (API.md, Tenants and members). */
const { app, config, db } = await buildTestApp(t, { env: relaxedAuthLimits })

interface MemberJson { user: { id: string, name: string, email: string }, role: string, created_at: string }
const membersOf = (response: { json: () => unknown }) => (response.json() as { data: MemberJson[] }).data
const missingUserId = '01890a5d-ac96-774b-bcce-b302099a8057'

t.test('the list: envelope, fields, newest first', async tt => {
  const tenant = await createTenant(app)
  const response = await clientOf(app, tenant.viewer.token).get('/v1/members')
  tt.equal(response.statusCode, 200)
  const body = response.json()
  tt.same(Object.keys(body).sort(), ['data', 'next_cursor'])
  tt.equal(body.next_cursor, null, 'everything fits one page')
  const data = membersOf(response)
  tt.same(data.map(m => m.role), ['viewer', 'editor', 'admin', 'owner'], 'newest first (the owner joined first)')
  tt.same(data.map(m => m.user.id), [tenant.viewer.id, tenant.editor.id, tenant.admin.id, tenant.owner.id])
  for (const member of data) {
    tt.same(Object.keys(member).sort(), ['created_at', 'role', 'user'])
    tt.same(Object.keys(member.user).sort(), ['email', 'id', 'name'])
  }
  tt.equal(data[0]?.user.email, tenant.viewer.email)
  tt.equal(data[0]?.user.name, 'Viewer')
  const times = data.map(m => Date.parse(m.created_at))
  tt.same(times, [...times].sort((a, b) => b - a), 'created_at descends')
})

t.test('pagination with limit=1 visits every member once', async tt => {
  const tenant = await createTenant(app)
  const client = clientOf(app, tenant.editor.token)
  const seen: string[] = []
  let cursor: string | null = null
  for (let pageNo = 0; pageNo < 10; pageNo++) {
    const response = await client.get(`/v1/members?limit=1${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)
    tt.equal(response.statusCode, 200)
    const data = membersOf(response)
    tt.equal(data.length, 1, `page ${pageNo + 1} holds one member`)
    seen.push(...data.map(m => m.user.id))
    cursor = response.json().next_cursor
    if (cursor === null) break
    tt.type(cursor, 'string')
  }
  tt.equal(cursor, null, 'the walk ends')
  tt.same(seen, [tenant.viewer.id, tenant.editor.id, tenant.admin.id, tenant.owner.id], 'all four, in order, no duplicates')
})

t.test('bad list parameters are 400 validation_failed, never clamped', async tt => {
  const tenant = await createTenant(app)
  const client = clientOf(app, tenant.viewer.token)
  expectInvalid(tt, await client.get('/v1/members?limit=0'), '/limit', 'limit=0')
  expectInvalid(tt, await client.get('/v1/members?limit=101'), '/limit', 'limit=101')
  expectInvalid(tt, await client.get('/v1/members?limit=two'), '/limit', 'limit=two')
  expectInvalid(tt, await client.get('/v1/members?cursor=garbage'), '/cursor', 'unreadable cursor')
  const forged = cursorOf('yesterday', 'someone')
  expectInvalid(tt, await client.get(`/v1/members?cursor=${forged}`), '/cursor', 'well-formed base64, wrong content')
  tt.equal((await client.get('/v1/members?limit=100&unknown=1')).statusCode, 200, 'unknown query parameters are ignored')
})

t.test('a cursor naming an impossible instant is 400 validation_failed, never a 500', async tt => {
  const tenant = await createTenant(app)
  for (const { label, cursor } of impossibleCursors) {
    expectInvalid(tt, await clientOf(app, tenant.viewer.token).get(`/v1/members?cursor=${cursor}`), '/cursor', label)
  }
})

t.test('adding a member', async tt => {
  const tenant = await createTenant(app)
  const admin = clientOf(app, tenant.admin.token)
  const newcomer = await registerUser(app, { name: 'Newcomer' })

  const response = await admin.post('/v1/members', { email: newcomer.email, role: 'editor' })
  tt.equal(response.statusCode, 201)
  const member = response.json().member as MemberJson
  tt.same(Object.keys(response.json()), ['member'])
  tt.same(member.user, { id: newcomer.id, name: 'Newcomer', email: newcomer.email })
  tt.equal(member.role, 'editor')
  tt.ok(Number.isFinite(Date.parse(member.created_at)))
  tt.ok(membersOf(await admin.get('/v1/members')).some(m => m.user.id === newcomer.id), 'listed')

  const token = await tokenFor(app, newcomer.email, tenant.slug)
  tt.equal((await clientOf(app, token).post('/v1/articles', { title: 'Hello' })).statusCode, 201, 'the newcomer works as an editor')

  expectProblem(tt, await admin.post('/v1/members', { email: newcomer.email, role: 'viewer' }), 409, 'conflict', 'already a member')
  expectProblem(tt, await admin.post('/v1/members', { email: newcomer.email.toUpperCase(), role: 'viewer' }), 409, 'conflict', 'already a member, other case')
  expectProblem(tt, await admin.post('/v1/members', { email: 'nobody-here@example.test', role: 'viewer' }), 404, 'not_found', 'no such user')
})

t.test('emails are compared case-insensitively (and trimmed)', async tt => {
  const tenant = await createTenant(app)
  const user = await registerUser(app, { name: 'Shouty' })
  const response = await clientOf(app, tenant.owner.token).post('/v1/members', { email: `  ${user.email.toUpperCase()} `, role: 'viewer' })
  tt.equal(response.statusCode, 201)
  tt.equal(response.json().member.user.id, user.id)
  tt.equal(response.json().member.user.email, user.email, 'the stored email is shown')
})

t.test('bad member bodies and paths are 400 validation_failed', async tt => {
  const tenant = await createTenant(app)
  const owner = clientOf(app, tenant.owner.token)
  const user = await registerUser(app)
  expectInvalid(tt, await owner.post('/v1/members', { email: user.email, role: 'superuser' }), '/role', 'unknown role')
  expectInvalid(tt, await owner.post('/v1/members', { email: user.email }), '/role', 'role missing')
  expectInvalid(tt, await owner.post('/v1/members', { role: 'viewer' }), '/email', 'email missing')
  expectInvalid(tt, await owner.post('/v1/members', { email: user.email, role: 'viewer', note: 'hi' }), '/note', 'unknown property')
  expectInvalid(tt, await owner.patch(`/v1/members/${tenant.editor.id}`, {}), '/role', 'PATCH without role')
  expectInvalid(tt, await owner.patch(`/v1/members/${tenant.editor.id}`, { role: 'viewer', name: 'x' }), '/name', 'PATCH unknown property')
  expectInvalid(tt, await owner.patch('/v1/members/not-a-uuid', { role: 'viewer' }), '/user_id', 'PATCH non-UUID user_id')
  expectInvalid(tt, await owner.delete('/v1/members/12345'), '/user_id', 'DELETE non-UUID user_id')
  expectProblem(tt, await owner.patch(`/v1/members/${missingUserId}`, { role: 'viewer' }), 404, 'not_found', 'PATCH a non-member')
  expectProblem(tt, await owner.delete(`/v1/members/${user.id}`), 404, 'not_found', 'DELETE a registered non-member')
})

t.test('changing a role takes effect on the next request', async tt => {
  const tenant = await createTenant(app)
  const admin = clientOf(app, tenant.admin.token)
  const editor = clientOf(app, tenant.editor.token)
  tt.equal((await editor.post('/v1/articles', { title: 'Before' })).statusCode, 201, 'an editor may write')

  const response = await admin.patch(`/v1/members/${tenant.editor.id}`, { role: 'viewer' })
  tt.equal(response.statusCode, 200)
  tt.same(Object.keys(response.json()), ['member'])
  tt.equal(response.json().member.role, 'viewer')
  tt.equal(response.json().member.user.id, tenant.editor.id)
  expectProblem(tt, await editor.post('/v1/articles', { title: 'After' }), 403, 'forbidden', 'demoted to viewer: no more writing')
  tt.equal((await editor.get('/v1/articles')).statusCode, 200, 'still a reader')

  const same = await admin.patch(`/v1/members/${tenant.editor.id}`, { role: 'viewer' })
  tt.equal(same.statusCode, 200, 'setting the current role again is fine')
  tt.equal(same.json().member.role, 'viewer')
})

t.test('removing a member: 204, gone from the list, its token stops working for the tenant at once', async tt => {
  const tenant = await createTenant(app)
  const leaving = clientOf(app, tenant.viewer.token)
  tt.equal((await leaving.get('/v1/tenant')).statusCode, 200, 'a member before (and its role is cached now)')

  const response = await clientOf(app, tenant.admin.token).delete(`/v1/members/${tenant.viewer.id}`)
  tt.equal(response.statusCode, 204)
  tt.equal(response.body, '')
  expectProblem(tt, await leaving.get('/v1/tenant'), 404, 'tenant_not_found', 'the bound token')
  expectProblem(tt, await leaving.get('/v1/articles', { 'x-tenant': tenant.slug }), 404, 'tenant_not_found', 'naming the tenant')
  tt.notOk(membersOf(await clientOf(app, tenant.owner.token).get('/v1/members')).some(m => m.user.id === tenant.viewer.id), 'not listed')
  const rows = await withSql(db.ownerUrl, sql => sql`select 1 from memberships where tenant_id = ${tenant.id} and user_id = ${tenant.viewer.id}`)
  tt.equal(rows.length, 0, 'the membership row is gone')
  tt.equal((await clientOf(app, tenant.viewer.token).get('/v1/me')).statusCode, 200, 'the user itself still exists')
})

t.test('a removal on one instance locks the member out on another instance', async tt => {
  const second = await buildTestApp(tt, { database: db, env: { ...relaxedAuthLimits, REDIS_PREFIX: config.REDIS_PREFIX } })
  const tenant = await createTenant(app)
  const onSecond = clientOf(second.app, tenant.viewer.token)
  tt.equal((await onSecond.get('/v1/tenant')).statusCode, 200, 'a member on instance 2 (cached there)')
  tt.equal((await clientOf(app, tenant.owner.token).delete(`/v1/members/${tenant.viewer.id}`)).statusCode, 204)
  // the cached role would otherwise live for a minute
  const lockedOut = await waitFor('the removed member to be locked out on instance 2', async () => (await onSecond.get('/v1/tenant')).statusCode === 404, 3000)
  tt.ok(lockedOut, 'instance 2 answers 404 within 3 s')
})

t.test('only an owner may make, demote or remove an owner', async tt => {
  const tenant = await createTenant(app)
  const admin = clientOf(app, tenant.admin.token)
  const user = await registerUser(app)
  expectProblem(tt, await admin.post('/v1/members', { email: user.email, role: 'owner' }), 403, 'forbidden', 'admin adds an owner')
  expectProblem(tt, await admin.patch(`/v1/members/${tenant.editor.id}`, { role: 'owner' }), 403, 'forbidden', 'admin promotes to owner')
  expectProblem(tt, await admin.patch(`/v1/members/${tenant.owner.id}`, { role: 'viewer' }), 403, 'forbidden', 'admin demotes the owner')
  expectProblem(tt, await admin.delete(`/v1/members/${tenant.owner.id}`), 403, 'forbidden', 'admin removes the owner')
  const roles = membersOf(await admin.get('/v1/members')).map(m => m.role).sort()
  tt.same(roles, ['admin', 'editor', 'owner', 'viewer'], 'nothing changed')

  const owner = clientOf(app, tenant.owner.token)
  const added = await owner.post('/v1/members', { email: user.email, role: 'owner' })
  tt.equal(added.statusCode, 201, 'an owner adds an owner')
  tt.equal(added.json().member.role, 'owner')
  const promoted = await owner.patch(`/v1/members/${tenant.admin.id}`, { role: 'owner' })
  tt.equal(promoted.statusCode, 200, 'an owner promotes to owner')
  tt.equal(promoted.json().member.role, 'owner')
  const demoted = await owner.patch(`/v1/members/${user.id}`, { role: 'editor' })
  tt.equal(demoted.statusCode, 200, 'an owner demotes another owner')
  tt.equal(demoted.json().member.role, 'editor')
  tt.equal((await owner.delete(`/v1/members/${tenant.admin.id}`)).statusCode, 204, 'an owner removes another owner')
})

t.test('members:manage is for admins and owners', async tt => {
  const tenant = await createTenant(app)
  const user = await registerUser(app)
  for (const role of ['editor', 'viewer'] as const) {
    const client = clientOf(app, tenant[role].token)
    expectProblem(tt, await client.post('/v1/members', { email: user.email, role: 'viewer' }), 403, 'forbidden', `${role} adds`)
    expectProblem(tt, await client.patch(`/v1/members/${tenant.viewer.id}`, { role: 'editor' }), 403, 'forbidden', `${role} changes a role`)
    expectProblem(tt, await client.delete(`/v1/members/${tenant.viewer.id}`), 403, 'forbidden', `${role} removes`)
  }
  tt.equal((await clientOf(app, tenant.admin.token).delete(`/v1/members/${tenant.editor.id}`)).statusCode, 204, 'an admin removes an editor')
})

t.test('the last owner can be neither demoted nor removed', async tt => {
  const tenant = await createTenant(app)
  const owner = clientOf(app, tenant.owner.token)
  expectProblem(tt, await owner.patch(`/v1/members/${tenant.owner.id}`, { role: 'admin' }), 409, 'conflict', 'demote self')
  expectProblem(tt, await owner.delete(`/v1/members/${tenant.owner.id}`), 409, 'conflict', 'remove self')

  const second = await addMember(app, tenant, 'owner', 'Second Owner')
  const secondClient = clientOf(app, second.token)
  tt.equal((await secondClient.patch(`/v1/members/${tenant.owner.id}`, { role: 'admin' })).statusCode, 200, 'with two owners one may go')
  expectProblem(tt, await secondClient.patch(`/v1/members/${second.id}`, { role: 'editor' }), 409, 'conflict', 'now the last one again')
  expectProblem(tt, await secondClient.delete(`/v1/members/${second.id}`), 409, 'conflict', 'and cannot leave')

  const owners = await withSql(db.ownerUrl, sql => sql`select user_id from memberships where tenant_id = ${tenant.id} and role = 'owner'`)
  tt.same(owners.map(row => row.user_id), [second.id], 'exactly one owner left')
})

t.test('two owners demoting or removing each other at once leave exactly one owner, never a 500', async tt => {
  // each round races the two changes; a lock-order deadlock showed up as a 500 in about a third of rounds
  const tenant = await createTenant(app)
  let survivor: TestMember = tenant.owner
  for (let round = 1; round <= 6; round++) {
    const user = await registerUser(app, { name: `Rival ${round}` })
    tt.equal((await clientOf(app, survivor.token).post('/v1/members', { email: user.email, role: 'owner' })).statusCode, 201)
    const rival: TestMember = { ...user, role: 'owner', token: await tokenFor(app, user.email, tenant.slug) }
    const first = clientOf(app, survivor.token)
    const second = clientOf(app, rival.token)
    await Promise.all([first.get('/v1/tenant'), second.get('/v1/tenant')])
    const removing = round % 2 === 0
    const answers = await Promise.all(removing
      ? [first.delete(`/v1/members/${rival.id}`), second.delete(`/v1/members/${survivor.id}`)]
      : [first.patch(`/v1/members/${rival.id}`, { role: 'admin' }), second.patch(`/v1/members/${survivor.id}`, { role: 'admin' })])
    const statuses = answers.map(answer => answer.statusCode).sort()
    // the loser's change is authorized from its own role as the winner left it: no longer an owner
    tt.same(statuses, [removing ? 204 : 200, 403], `round ${round} (${removing ? 'remove' : 'demote'}): one wins, the other is refused`)
    const owners = await withSql(db.ownerUrl, sql => sql`select user_id from memberships where tenant_id = ${tenant.id} and role = 'owner'`)
    tt.equal(owners.length, 1, `round ${round}: one owner left`)
    survivor = owners[0]?.user_id === rival.id ? rival : survivor
  }
})

t.test('an instance that missed the invalidation still refuses member writes by a removed or demoted admin', async tt => {
  // instance 2 listens on another channel: it never hears instance 1's invalidations, like an
  // instance whose subscription was cut while the message went by
  const stale = await buildTestApp(tt, { database: db, env: relaxedAuthLimits })
  const tenant = await createTenant(app)
  const removed = await addMember(app, tenant, 'admin', 'Removed Admin')
  const demoted = await addMember(app, tenant, 'admin', 'Demoted Admin')
  const bystander = await registerUser(app, { name: 'Bystander' })
  for (const admin of [removed, demoted]) {
    tt.equal((await clientOf(stale.app, admin.token).get('/v1/members')).statusCode, 200, `${admin.name} is an admin on instance 2 (cached there)`)
  }

  const owner = clientOf(app, tenant.owner.token)
  tt.equal((await owner.delete(`/v1/members/${removed.id}`)).statusCode, 204)
  tt.equal((await owner.patch(`/v1/members/${demoted.id}`, { role: 'viewer' })).statusCode, 200)
  tt.equal((await clientOf(stale.app, removed.token).get('/v1/tenant')).statusCode, 200, 'instance 2 still believes its cache (reads are not re-checked)')

  const onStale = clientOf(stale.app, removed.token)
  expectProblem(tt, await onStale.post('/v1/members', { email: removed.email, role: 'admin' }), 403, 'forbidden', 'the removed admin adds itself back')
  expectProblem(tt, await onStale.post('/v1/members', { email: bystander.email, role: 'admin' }), 403, 'forbidden', 'the removed admin adds someone')
  expectProblem(tt, await onStale.patch(`/v1/members/${tenant.editor.id}`, { role: 'admin' }), 403, 'forbidden', 'the removed admin changes a role')
  expectProblem(tt, await onStale.delete(`/v1/members/${tenant.viewer.id}`), 403, 'forbidden', 'the removed admin removes a member')
  const demotedOnStale = clientOf(stale.app, demoted.token)
  expectProblem(tt, await demotedOnStale.patch(`/v1/members/${demoted.id}`, { role: 'admin' }), 403, 'forbidden', 'the demoted admin promotes itself back')
  expectProblem(tt, await demotedOnStale.post('/v1/members', { email: bystander.email, role: 'viewer' }), 403, 'forbidden', 'the demoted admin adds someone')

  const rows = await withSql(db.ownerUrl, sql => sql<Array<{ user_id: string, role: string }>>`
    select user_id, role from memberships where tenant_id = ${tenant.id} order by user_id`)
  const roles = Object.fromEntries(rows.map(row => [row.user_id, row.role]))
  tt.equal(roles[removed.id], undefined, 'the removed admin has no membership')
  tt.equal(roles[demoted.id], 'viewer', 'the demoted admin is still a viewer')
  tt.equal(roles[bystander.id], undefined, 'nobody was added')
  tt.equal(roles[tenant.editor.id], 'editor', 'no role changed')
  tt.equal(roles[tenant.viewer.id], 'viewer', 'nobody was removed')
})

t.test('an instance that missed the invalidation refuses article writes by a demoted editor or a removed member', async tt => {
  const stale = await buildTestApp(tt, { database: db, env: relaxedAuthLimits })
  const tenant = await createTenant(app)
  const removed = await addMember(app, tenant, 'admin', 'Removed Admin')
  const created = await clientOf(app, tenant.editor.token).post('/v1/articles', { title: 'Mine' })
  tt.equal(created.statusCode, 201)
  const articleId = (created.json() as { article: { id: string } }).article.id
  for (const member of [tenant.editor, removed]) {
    tt.equal((await clientOf(stale.app, member.token).get('/v1/articles')).statusCode, 200, 'cached on instance 2')
  }
  const owner = clientOf(app, tenant.owner.token)
  tt.equal((await owner.patch(`/v1/members/${tenant.editor.id}`, { role: 'viewer' })).statusCode, 200)
  tt.equal((await owner.delete(`/v1/members/${removed.id}`)).statusCode, 204)

  const editor = clientOf(stale.app, tenant.editor.token)
  expectProblem(tt, await editor.post('/v1/articles', { title: 'After demotion' }), 403, 'forbidden', 'create')
  expectProblem(tt, await editor.patch(`/v1/articles/${articleId}`, { title: 'Changed' }), 403, 'forbidden', 'update')
  expectProblem(tt, await editor.post(`/v1/articles/${articleId}/publish`), 403, 'forbidden', 'publish')
  expectProblem(tt, await editor.delete(`/v1/articles/${articleId}`), 403, 'forbidden', 'delete')
  const ex = clientOf(stale.app, removed.token)
  expectProblem(tt, await ex.post('/v1/articles', { title: 'After removal' }), 403, 'forbidden', 'a removed member creates')
  expectProblem(tt, await ex.delete(`/v1/articles/${articleId}`), 403, 'forbidden', 'a removed admin deletes')

  const articles = await withSql(db.ownerUrl, sql => sql<Array<{ title: string, status: string }>>`
    select title, status from articles where tenant_id = ${tenant.id}`)
  tt.same(articles, [{ title: 'Mine', status: 'draft' }], 'the article is unchanged and nothing was added')
})
