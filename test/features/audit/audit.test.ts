import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { clientOf, expectInvalid, expectProblem, type Client, type Reply } from '../../helpers/http.ts'
import { impossibleCursors } from '../../helpers/cursors.ts'
import { withSql } from '../../helpers/sql.ts'
import { createTenant, enableFeature, relaxedAuthLimits, type TestMember, type TestTenant } from '../../helpers/tenants.ts'
import { registerUser, tokenFor } from '../../helpers/users.ts'

/** API.md, Audit log: one entry per change, in the change's transaction; append-only in the database. */
const { app, db } = await buildTestApp(t, { env: relaxedAuthLimits })
const tenant = await createTenant(app)
const as = (member: TestMember): Client => clientOf(app, member.token)

interface AuditJson {
  id: string
  actor: { id: string, name: string } | null
  action: string
  object_type: string
  object_id: string
  changes: Record<string, [unknown, unknown]>
  request_id: string | null
  created_at: string
}
const entryFields = ['action', 'actor', 'changes', 'created_at', 'id', 'object_id', 'object_type', 'request_id']

/** Every entry of the tenant's log, through the API, newest first. */
async function auditLog (of: TestTenant = tenant, query = ''): Promise<AuditJson[]> {
  const entries: AuditJson[] = []
  let cursor: string | null = null
  for (let page = 0; page < 50; page++) {
    const response = await clientOf(app, of.owner.token).get(`/v1/audit-log?limit=100${query}${cursor === null ? '' : `&cursor=${cursor}`}`)
    if (response.statusCode !== 200) throw new Error(`audit log: ${response.statusCode} ${response.body}`)
    const body = response.json() as { data: AuditJson[], next_cursor: string | null }
    entries.push(...body.data)
    cursor = body.next_cursor
    if (cursor === null) return entries
  }
  throw new Error('the audit log did not end within 50 pages')
}

/** The entries the request behind `response` wrote (matched by its X-Request-Id). */
async function entriesOf (response: Reply, of: TestTenant = tenant): Promise<AuditJson[]> {
  const requestId = response.headers['x-request-id']
  return (await auditLog(of)).filter(entry => entry.request_id === requestId)
}

/** Asserts the request wrote exactly one entry, with these fields. */
async function expectOneEntry (tt: Test, response: Reply, expected: Omit<AuditJson, 'id' | 'created_at' | 'request_id'>, of: TestTenant = tenant): Promise<void> {
  const entries = await entriesOf(response, of)
  tt.equal(entries.length, 1, `${expected.action} ${expected.object_type}: exactly one entry for the request`)
  const entry = entries[0]
  if (entry === undefined) return
  tt.same(Object.keys(entry).sort(), entryFields, 'exactly the documented fields')
  tt.same({ actor: entry.actor, action: entry.action, object_type: entry.object_type, object_id: entry.object_id, changes: entry.changes }, expected)
  tt.equal(entry.request_id, response.headers['x-request-id'], 'the request id of the change')
  tt.ok(Number.isFinite(Date.parse(entry.created_at)), 'created_at is a timestamp')
}

const actorOf = (member: TestMember) => ({ id: member.id, name: member.name })
const requestId = () => `audit-test-${randomBytes(6).toString('hex')}`

t.test('creating a tenant is audited in its own log', async tt => {
  const founder = await registerUser(app, { name: 'Founder' })
  const token = await tokenFor(app, founder.email)
  const slug = `audited-${randomBytes(4).toString('hex')}`
  const response = await clientOf(app, token).post('/v1/tenants', { slug, name: 'Audited' })
  tt.equal(response.statusCode, 201)
  const tenantId = response.json().tenant.id as string
  const log = await clientOf(app, token).get('/v1/audit-log', { 'x-tenant': slug })
  tt.equal(log.statusCode, 200)
  const entries = (log.json().data as AuditJson[]).filter(entry => entry.request_id === response.headers['x-request-id'])
  tt.equal(entries.length, 1)
  tt.match(entries[0], {
    actor: { id: founder.id, name: 'Founder' },
    action: 'created',
    object_type: 'tenant',
    object_id: tenantId,
    changes: { slug: [null, slug], name: [null, 'Audited'] }
  })
})

t.test('article changes: created, updated, published, scheduled, deleted', async tt => {
  const editor = as(tenant.editor)
  const created = await editor.post('/v1/articles', { title: 'First', tags: ['a', 'b', 'a'] }, { 'x-request-id': requestId() })
  tt.equal(created.statusCode, 201)
  const id = created.json().article.id as string
  await expectOneEntry(tt, created, {
    actor: actorOf(tenant.editor), action: 'created', object_type: 'article', object_id: id, changes: { title: [null, 'First'], tags: [null, ['a', 'b']] }
  })

  const renamed = await editor.patch(`/v1/articles/${id}`, { title: 'Second', tags: ['a', 'b'] })
  tt.equal(renamed.statusCode, 200)
  await expectOneEntry(tt, renamed, {
    actor: actorOf(tenant.editor), action: 'updated', object_type: 'article', object_id: id, changes: { title: ['First', 'Second'] }
  })

  const rewritten = await as(tenant.admin).patch(`/v1/articles/${id}`, { body: 'New body' })
  const [bodyEntry] = await entriesOf(rewritten)
  tt.same(Object.keys(bodyEntry?.changes ?? {}), ['body'], 'a body change names the body')
  tt.equal(bodyEntry?.changes.body?.length, 2, 'as an [old, new] pair')
  tt.same(bodyEntry?.actor, actorOf(tenant.admin), 'the admin is the actor')

  const unchanged = await editor.patch(`/v1/articles/${id}`, { title: 'Second' })
  tt.equal(unchanged.statusCode, 200)
  tt.same(await entriesOf(unchanged), [], 'a PATCH that changes nothing writes nothing')

  await enableFeature(app, 'scheduled-publishing', [tenant.id])
  const publishAt = new Date(Date.now() + 3_600_000).toISOString()
  const scheduled = await editor.post(`/v1/articles/${id}/schedule`, { publish_at: publishAt })
  tt.equal(scheduled.statusCode, 200)
  const [scheduleEntry] = await entriesOf(scheduled)
  tt.equal((await entriesOf(scheduled)).length, 1, 'scheduling: one entry')
  tt.match(scheduleEntry, { action: 'scheduled', object_type: 'article', object_id: id, changes: { status: ['draft', 'scheduled'] } })
  tt.equal(Date.parse(String(scheduleEntry?.changes.publish_at?.[1])), Date.parse(publishAt), 'the new publish_at')

  const published = await editor.post(`/v1/articles/${id}/publish`)
  await expectOneEntry(tt, published, {
    actor: actorOf(tenant.editor), action: 'published', object_type: 'article', object_id: id, changes: { status: ['scheduled', 'published'] }
  })
  const again = await editor.post(`/v1/articles/${id}/publish`)
  tt.equal(again.statusCode, 200)
  tt.same(await entriesOf(again), [], 'publishing again changes nothing and writes nothing')

  const deleted = await as(tenant.owner).delete(`/v1/articles/${id}`)
  tt.equal(deleted.statusCode, 204)
  await expectOneEntry(tt, deleted, {
    actor: actorOf(tenant.owner), action: 'deleted', object_type: 'article', object_id: id, changes: { title: ['Second', null] }
  })
  const history = await auditLog(tenant, `&object_id=${id}`)
  tt.same(history.map(entry => entry.action), ['deleted', 'published', 'scheduled', 'updated', 'updated', 'created'],
    "the article's whole history, newest first")
})

t.test('member changes: added, role changed, removed', async tt => {
  const user = await registerUser(app, { name: 'Joiner' })
  const admin = as(tenant.admin)
  const added = await admin.post('/v1/members', { email: user.email, role: 'editor' })
  tt.equal(added.statusCode, 201)
  await expectOneEntry(tt, added, {
    actor: actorOf(tenant.admin), action: 'member_added', object_type: 'member', object_id: user.id, changes: { role: [null, 'editor'] }
  })
  const changed = await admin.patch(`/v1/members/${user.id}`, { role: 'viewer' })
  tt.equal(changed.statusCode, 200)
  await expectOneEntry(tt, changed, {
    actor: actorOf(tenant.admin), action: 'role_changed', object_type: 'member', object_id: user.id, changes: { role: ['editor', 'viewer'] }
  })
  const removed = await as(tenant.owner).delete(`/v1/members/${user.id}`)
  tt.equal(removed.statusCode, 204)
  await expectOneEntry(tt, removed, {
    actor: actorOf(tenant.owner), action: 'member_removed', object_type: 'member', object_id: user.id, changes: { role: ['viewer', null] }
  })
})

t.test('a refused or failed change writes nothing', async tt => {
  const before = (await auditLog()).length
  const answers = [
    await as(tenant.owner).patch(`/v1/members/${tenant.owner.id}`, { role: 'admin' }), // the last owner: 409
    await as(tenant.admin).delete(`/v1/members/${tenant.owner.id}`), // only an owner removes an owner: 403
    await as(tenant.viewer).post('/v1/articles', { title: 'Nope' }), // 403
    await as(tenant.editor).post('/v1/articles', { title: 'x', tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }), // 400
    await as(tenant.admin).post('/v1/members', { email: tenant.editor.email, role: 'viewer' }) // 409
  ]
  tt.same(answers.map(answer => answer.statusCode), [409, 403, 403, 400, 409])
  for (const answer of answers) tt.same(await entriesOf(answer), [], `${answer.statusCode}: no entry`)
  tt.equal((await auditLog()).length, before, 'the log did not grow')
})

t.test('GET /v1/audit-log: admins and owners only', async tt => {
  for (const member of [tenant.owner, tenant.admin]) tt.equal((await as(member).get('/v1/audit-log')).statusCode, 200, `${member.role} reads it`)
  for (const member of [tenant.editor, tenant.viewer]) {
    expectProblem(tt, await as(member).get('/v1/audit-log'), 403, 'forbidden', `${member.role} may not`)
  }
})

t.test('GET /v1/audit-log: filters, order and pagination', async tt => {
  const scoped = await createTenant(app)
  const article = (await as(scoped.editor).post('/v1/articles', { title: 'Filtered' })).json().article.id as string
  await as(scoped.admin).patch(`/v1/articles/${article}`, { title: 'Filtered again' })
  const all = await auditLog(scoped)
  tt.same(all.map(entry => [entry.action, entry.object_type]), [
    ['updated', 'article'], ['created', 'article'],
    ['member_added', 'member'], ['member_added', 'member'], ['member_added', 'member'],
    ['created', 'tenant']
  ], 'newest first: the tenant, its three members, the article and its change')

  const members = await auditLog(scoped, '&object_type=member')
  tt.same(members.map(entry => entry.object_id).sort(), [scoped.admin.id, scoped.editor.id, scoped.viewer.id].sort(), 'object_type')
  tt.same((await auditLog(scoped, `&object_id=${article}`)).map(entry => entry.action), ['updated', 'created'], 'object_id')
  tt.same((await auditLog(scoped, `&actor_id=${scoped.admin.id}`)).map(entry => entry.action), ['updated'], 'actor_id')
  tt.same((await auditLog(scoped, `&actor_id=${scoped.owner.id}`)).length, 4, 'the owner created the tenant and added three members')
  tt.same((await auditLog(scoped, `&object_type=article&actor_id=${scoped.editor.id}`)).map(entry => entry.action), ['created'], 'combined')
  tt.same(await auditLog(scoped, '&object_type=invoice'), [], 'no match, empty list')

  const seen: string[] = []
  let cursor: string | null = null
  for (let page = 0; page < 10; page++) {
    const response = await as(scoped.owner).get(`/v1/audit-log?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`)
    tt.equal(response.statusCode, 200)
    seen.push(...(response.json().data as AuditJson[]).map(entry => entry.id))
    cursor = response.json().next_cursor
    if (cursor === null) break
  }
  tt.same(seen, all.map(entry => entry.id), 'pages of two visit every entry once, in order')

  const owner = as(scoped.owner)
  expectInvalid(tt, await owner.get('/v1/audit-log?actor_id=someone'), '/actor_id', 'actor_id not a UUID')
  expectInvalid(tt, await owner.get('/v1/audit-log?limit=0'), '/limit', 'limit=0')
  expectInvalid(tt, await owner.get('/v1/audit-log?limit=101'), '/limit', 'limit=101')
  expectInvalid(tt, await owner.get('/v1/audit-log?cursor=nonsense'), '/cursor', 'bad cursor')
  tt.same(await auditLog(scoped, `&object_id=${tenant.id}`), [], "another tenant's object shows nothing")
})

t.test('GET /v1/audit-log: a cursor naming an impossible instant is 400 validation_failed, never a 500', async tt => {
  for (const { label, cursor } of impossibleCursors) {
    expectInvalid(tt, await as(tenant.owner).get(`/v1/audit-log?cursor=${cursor}`), '/cursor', label)
  }
})

t.test('append-only: the runtime role may not UPDATE, DELETE or TRUNCATE the log', async tt => {
  const before = await withSql(db.ownerUrl, sql => sql`select id, action, changes from audit_log where tenant_id = ${tenant.id} order by id`)
  tt.ok(before.length > 5, 'there is history to protect')
  const attempts: Record<string, string> = {
    UPDATE: "update audit_log set action = 'deleted', changes = '{}'",
    DELETE: 'delete from audit_log',
    TRUNCATE: 'truncate audit_log'
  }
  await withSql(db.runtimeUrl, async sql => {
    const visible = await sql.begin(async tx => {
      await tx`select set_config('app.tenant_id', ${tenant.id}, true)`
      return tx`select count(*)::int as n from audit_log`
    })
    tt.equal(visible[0]?.n, before.length, 'the runtime role reads its tenant\'s log')
    for (const [statement, text] of Object.entries(attempts)) {
      const failure = await sql.begin(async tx => {
        await tx`select set_config('app.tenant_id', ${tenant.id}, true)`
        await tx.unsafe(text)
      }).then(() => null, (error: { code?: string, message: string }) => error)
      tt.equal(failure?.code, '42501', `${statement} as the runtime role: insufficient privilege (${failure?.message ?? 'it succeeded'})`)
      tt.match(failure?.message ?? '', /permission denied/, `${statement}: permission denied`)
    }
  })
  const after = await withSql(db.ownerUrl, sql => sql`select id, action, changes from audit_log where tenant_id = ${tenant.id} order by id`)
  tt.same(after, before, 'the log is unchanged')
})

t.test('append-only: even the owner role cannot UPDATE, DELETE or TRUNCATE (the triggers)', async tt => {
  const before = await withSql(db.ownerUrl, sql => sql`select id, action, changes from audit_log where tenant_id = ${tenant.id} order by id`)
  const attempts: Record<string, string> = {
    UPDATE: "update audit_log set action = 'deleted' where tenant_id = $1",
    DELETE: 'delete from audit_log where tenant_id = $1',
    TRUNCATE: 'truncate audit_log'
  }
  await withSql(db.ownerUrl, async sql => {
    for (const [statement, text] of Object.entries(attempts)) {
      const failure = await sql.unsafe(text, text.includes('$1') ? [tenant.id] : []).then(() => null, (error: { code?: string, message: string }) => error)
      tt.equal(failure?.code, '42501', `${statement} as the owner: refused (${failure?.message ?? 'it succeeded'})`)
      tt.match(failure?.message ?? '', /append-only/, `${statement}: by the append-only trigger`)
    }
  })
  const after = await withSql(db.ownerUrl, sql => sql`select id, action, changes from audit_log where tenant_id = ${tenant.id} order by id`)
  tt.same(after, before, 'the log is unchanged')
})

t.test('the runtime role can still append, and only within its tenant', async tt => {
  const other = await createTenant(app)
  await withSql(db.runtimeUrl, async sql => {
    const failure = await sql.begin(async tx => {
      await tx`select set_config('app.tenant_id', ${tenant.id}, true)`
      await tx`insert into audit_log (tenant_id, action, object_type, object_id) values (${other.id}, 'updated', 'article', 'forged')`
    }).then(() => null, (error: { code?: string }) => error)
    tt.equal(failure?.code, '42501', "writing into another tenant's log is refused by row-level security")
  })
  tt.same((await auditLog(other)).filter(entry => entry.object_id === 'forged'), [], 'nothing forged')
})
