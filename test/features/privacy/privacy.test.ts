import t, { type Test } from 'tap'
import { randomBytes, randomUUID } from 'node:crypto'
import { UnrecoverableError } from 'bullmq'
import { createSql } from '../../../src/platform/db/client.ts'
import { createMailer } from '../../../src/platform/mail-transport.ts'
import { domainJobs } from '../../../src/features/jobs.ts'
import { enqueue } from '../../../src/platform/jobs/outbox.ts'
import { JobRegistry } from '../../../src/platform/jobs/registry.ts'
import { anonymizeAccount, anonymizedEmail, DeletionBlockedError } from '../../../src/features/privacy/account-deletion.ts'
import { registerPrivacyJobs } from '../../../src/features/privacy/jobs.ts'
import { DELETE_ACCOUNT_JOB, EXPORT_JOB, PURGE_EXPORTS_JOB } from '../../../src/features/privacy/job-names.ts'
import type { ExportDocument } from '../../../src/features/privacy/schemas.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { clientOf, expectInvalid, expectProblem, type Client } from '../../helpers/http.ts'
import { directJobContexts, serviceDatabase, startTestWorker } from '../../helpers/jobs.ts'
import { startSmtpServer } from '../../helpers/smtp.ts'
import { waitFor } from '../../helpers/wait.ts'
import { relaxedAuthLimits } from '../../helpers/tenants.ts'
import { bearer, login, PASSWORD, registerUser, type TestUser, tokenFor } from '../../helpers/users.ts'

/** API.md Privacy (GDPR): exports and account deletion, with a real worker running the jobs. */

const { app, db, config } = await buildTestApp(t, { env: relaxedAuthLimits })
const owner = createSql(db.ownerUrl, { max: 2 })
t.teardown(() => owner.end({ timeout: 5 }))
const smtp = await startSmtpServer(t)
const privacyJobs = registerPrivacyJobs(new JobRegistry(), { config, mailer: createMailer({ SMTP_URL: smtp.url, MAIL_FROM: config.MAIL_FROM }) })
const { queues } = await startTestWorker(t, db, privacyJobs, { config })
const { database } = serviceDatabase(t, db)
const jobContext = directJobContexts(t, db, config)

interface ExportView { id: string, status: string, download_url?: string, expires_at?: string }
interface Caller extends TestUser { token: string, client: Client }

const unique = () => randomBytes(5).toString('hex')

async function caller (name: string): Promise<Caller> {
  const user = await registerUser(app, { name })
  const token = await tokenFor(app, user.email)
  return { ...user, token, client: clientOf(app, token) }
}

function expectStatus (response: { statusCode: number, body: string }, status: number, what: string): void {
  if (response.statusCode !== status) throw new Error(`${what}: ${response.statusCode} ${response.body}`)
}

async function createTenantAs (who: Caller): Promise<string> {
  const slug = `p-${unique()}`
  expectStatus(await who.client.post('/v1/tenants', { slug, name: `Tenant ${slug}` }), 201, 'create tenant')
  return slug
}

async function addMemberAs (who: Caller, slug: string, member: TestUser, role: string): Promise<void> {
  expectStatus(await who.client.post('/v1/members', { email: member.email, role }, { 'x-tenant': slug }), 201, 'add member')
}

async function writeArticle (who: Caller, slug: string, title: string): Promise<string> {
  const response = await who.client.post('/v1/articles', { title, body: `${title}: body` }, { 'x-tenant': slug })
  expectStatus(response, 201, 'create article')
  return (response.json() as { article: { id: string } }).article.id
}

async function exportView (who: Caller, id: string): Promise<ExportView> {
  const response = await who.client.get(`/v1/me/exports/${id}`)
  expectStatus(response, 200, 'get export')
  return (response.json() as { export: ExportView }).export
}

/** Requests an export and waits for the worker to make it ready; every status seen on the way is returned. */
async function readyExport (who: Caller): Promise<{ id: string, view: ExportView, seen: string[] }> {
  const created = await who.client.post('/v1/me/exports')
  expectStatus(created, 202, 'request export')
  const { id } = (created.json() as { export: { id: string } }).export
  const seen: string[] = []
  const view = await waitFor('the export is ready', async () => {
    const current = await exportView(who, id)
    if (seen.at(-1) !== current.status) seen.push(current.status)
    return current.status === 'ready' ? current : undefined
  })
  return { id, view, seen }
}

async function jobCompleted (jobId: string): Promise<void> {
  await waitFor(`job ${jobId} completed`, async () => await (await queues.get('privacy').getJob(jobId))?.getState() === 'completed')
}

/** Enqueues a job through the outbox, as a duplicate delivery would run it, and waits for it to complete. */
async function runAgain (name: string, payload: Record<string, string>): Promise<void> {
  const outboxId = await database.transaction(null, tx => enqueue(tx, { queue: 'privacy', name, payload, tenantId: null }))
  await jobCompleted(`outbox-${outboxId}`)
}

t.test('the worker of npm start runs the privacy job types', async tt => {
  const registry = domainJobs(config)
  tt.equal(registry.get(EXPORT_JOB)?.queue, 'privacy')
  tt.equal(registry.get(DELETE_ACCOUNT_JOB)?.queue, 'privacy')
  tt.equal(registry.get(PURGE_EXPORTS_JOB)?.queue, 'privacy')
})

t.test('an export holds the caller\'s data from every tenant and nothing of anyone else', async tt => {
  const alice = await caller('Alice Exporter')
  const bob = await caller('Bob Bystander')
  const aliceTenant = await createTenantAs(alice)
  const bobTenant = await createTenantAs(bob)
  await addMemberAs(bob, bobTenant, alice, 'editor')
  const aliceInOwn = await writeArticle(alice, aliceTenant, 'Alice writes at home')
  const aliceInBobs = await writeArticle(alice, bobTenant, 'Alice writes at Bob')
  const bobsArticle = await writeArticle(bob, bobTenant, 'Bob keeps this to himself')

  const created = await alice.client.post('/v1/me/exports')
  tt.equal(created.statusCode, 202, '202 Accepted')
  tt.equal(created.headers['cache-control'], 'no-store')
  const body = created.json() as { export: ExportView }
  tt.same(Object.keys(body.export).sort(), ['id', 'status'])
  tt.equal(body.export.status, 'pending')

  const id = body.export.id
  const seen: string[] = []
  const ready = await waitFor('the export is ready', async () => {
    const current = await exportView(alice, id)
    if (seen.at(-1) !== current.status) seen.push(current.status)
    return current.status === 'ready' ? current : undefined
  })
  tt.ok(seen.every(status => ['pending', 'running', 'ready'].includes(status)), `statuses on the way: ${seen.join(' -> ')}`)
  tt.equal(ready.download_url, `/v1/me/exports/${id}/download`)
  const ttlMs = Date.parse(ready.expires_at ?? '') - Date.now()
  tt.ok(ttlMs > (config.EXPORT_TTL_S - 60) * 1000 && ttlMs <= config.EXPORT_TTL_S * 1000, 'expires EXPORT_TTL_S after it became ready')

  const download = await alice.client.get(ready.download_url ?? '')
  tt.equal(download.statusCode, 200)
  tt.equal(download.headers['content-disposition'], `attachment; filename="atrium-export-${id}.json"`)
  tt.match(download.headers['content-type'], /^application\/json/)
  tt.equal(download.headers['cache-control'], 'no-store')
  const document = download.json() as ExportDocument
  tt.equal(document.export_id, id)
  tt.match(document.user, { id: alice.id, email: alice.email, name: 'Alice Exporter' })
  tt.same(document.memberships.map(m => [m.tenant.slug, m.role]).sort(), [[aliceTenant, 'owner'], [bobTenant, 'editor']].sort(),
    'both memberships')
  tt.same(document.articles.map(a => [a.tenant.slug, a.id, a.title]).sort(),
    [[aliceTenant, aliceInOwn, 'Alice writes at home'], [bobTenant, aliceInBobs, 'Alice writes at Bob']].sort(), 'both of its articles, no other')
  const created2 = document.audit_entries.filter(e => e.action === 'created' && e.object_type === 'article').map(e => e.object_id).sort()
  tt.same(created2, [aliceInOwn, aliceInBobs].sort(), 'the audit entries of what it did, in both tenants')
  tt.ok(document.audit_entries.some(e => e.action === 'created' && e.object_type === 'tenant' && e.tenant.slug === aliceTenant))
  for (const foreign of [bob.id, bob.email, bobsArticle, 'Bob keeps this to himself', 'Bob Bystander']) {
    tt.notOk(download.body.includes(foreign), `nothing of Bob: ${foreign}`)
  }
})

t.test('exports after removal: a removed member exports nothing of the tenant it left, only of tenants it still belongs to', async tt => {
  const rita = await caller('Rita Removed')
  const sam = await caller('Sam Host')
  const ritaHome = await createTenantAs(rita)
  const samTenant = await createTenantAs(sam)
  await addMemberAs(sam, samTenant, rita, 'editor')
  const atHome = await writeArticle(rita, ritaHome, 'Rita at home')
  const atSam = await writeArticle(rita, samTenant, 'Rita at Sam')
  // the tenant goes on with the article after she leaves: its current text is the tenant's
  expectStatus(await sam.client.patch(`/v1/articles/${atSam}`, { body: 'Sam\'s confidential rewrite' }, { 'x-tenant': samTenant }), 200, 'edit')
  const removed = await sam.client.delete(`/v1/members/${rita.id}`, { 'x-tenant': samTenant })
  expectStatus(removed, 204, 'remove rita')

  const { id } = await readyExport(rita)
  const download = await rita.client.get(`/v1/me/exports/${id}/download`)
  expectStatus(download, 200, 'download')
  const document = download.json() as ExportDocument
  tt.same(document.memberships.map(m => m.tenant.slug), [ritaHome], 'only the membership she still has')
  tt.same(document.articles.map(a => a.id), [atHome], 'only the articles of tenants she still belongs to')
  tt.ok(document.audit_entries.length > 0, 'her audit entries at home are there')
  tt.ok(document.audit_entries.every(e => e.tenant.slug === ritaHome), 'and none of the tenant she left')
  for (const foreign of [samTenant, atSam, 'Sam\'s confidential rewrite', 'Rita at Sam']) {
    tt.notOk(download.body.includes(foreign), `nothing of the tenant she left: ${foreign}`)
  }
})

t.test('an export is its owner\'s alone, and only while ready and not expired', async tt => {
  const carol = await caller('Carol Exporter')
  const mallory = await caller('Mallory Curious')
  const { id } = await readyExport(carol)

  expectProblem(tt, await mallory.client.get(`/v1/me/exports/${id}`), 404, 'not_found', 'another user\'s export')
  expectProblem(tt, await mallory.client.get(`/v1/me/exports/${id}/download`), 404, 'not_found', 'another user\'s download')
  expectProblem(tt, await clientOf(app, null).get(`/v1/me/exports/${id}/download`), 401, 'unauthenticated', 'no token')
  expectProblem(tt, await carol.client.get(`/v1/me/exports/${randomUUID()}`), 404, 'not_found', 'unknown id')
  expectInvalid(tt, await carol.client.get('/v1/me/exports/not-a-uuid'), '/id', 'not a uuid')
  tt.equal((await carol.client.get(`/v1/me/exports/${id}/download`)).statusCode, 200, 'the owner still downloads it')

  const [pending] = await owner<Array<{ id: string }>>`insert into exports (user_id) values (${carol.id}) returning id`
  tt.same(await exportView(carol, pending!.id), { id: pending!.id, status: 'pending' }, 'pending: no url, no expiry')
  expectProblem(tt, await carol.client.get(`/v1/me/exports/${pending!.id}/download`), 404, 'not_found', 'not ready yet')
  const [failed] = await owner<Array<{ id: string }>>`insert into exports (user_id, status) values (${carol.id}, 'failed') returning id`
  tt.same(await exportView(carol, failed!.id), { id: failed!.id, status: 'failed' })

  await owner`update exports set expires_at = now() - interval '1 second' where id = ${id}`
  const expired = await exportView(carol, id)
  tt.equal(expired.status, 'expired')
  tt.notOk('download_url' in expired, 'no download url once expired')
  tt.ok(expired.expires_at !== undefined && Date.parse(expired.expires_at) < Date.now(), 'says when it expired')
  expectProblem(tt, await carol.client.get(`/v1/me/exports/${id}/download`), 404, 'not_found', 'expired')
})

t.test('a POST while the caller\'s export still waits answers that export; once it has started, a new one is queued', async tt => {
  const henry = await caller('Henry Impatient')
  // waiting, with no job behind it, so it stays pending for as long as the test needs
  const [waiting] = await owner<Array<{ id: string }>>`insert into exports (user_id) values (${henry.id}) returning id`
  const exportsOfHenry = async () => (await owner<Array<{ id: string }>>`select id from exports where user_id = ${henry.id}`).map(row => row.id)

  const responses = await Promise.all(Array.from({ length: 10 }, () => henry.client.post('/v1/me/exports')))
  tt.same([...new Set(responses.map(response => response.statusCode))], [202])
  tt.same(responses[0]!.json(), { export: { id: waiting!.id, status: 'pending' } })
  tt.same([...new Set(responses.map(response => (response.json() as { export: ExportView }).export.id))], [waiting!.id],
    '10 concurrent requests all answer the waiting export')
  tt.same(await exportsOfHenry(), [waiting!.id], 'and queue nothing more')

  await owner`update exports set status = 'running' where id = ${waiting!.id}`
  const next = await henry.client.post('/v1/me/exports')
  expectStatus(next, 202, 'request export while one runs')
  const nextId = (next.json() as { export: ExportView }).export.id
  tt.not(nextId, waiting!.id, 'a running export does not hold a new request back')
  tt.same((await exportsOfHenry()).sort(), [waiting!.id, nextId].sort())
  const ready = await waitFor('the new export is ready', async () => {
    const view = await exportView(henry, nextId)
    return view.status === 'ready' ? view : undefined
  })
  tt.equal(ready.download_url, `/v1/me/exports/${nextId}/download`)
})

t.test('exports are capped at 5 per user per rolling 24 h: the 6th is 429 rate_limited with Retry-After; a waiting export is still answered', async tt => {
  const ivan = await caller('Ivan Hoarder')
  const victor = await caller('Victor Other')
  const exportsOf = async (userId: string) => (await owner<Array<{ id: string }>>`select id from exports where user_id = ${userId} order by id`).map(row => row.id)
  const insert = async (status: string, ageHours: number) => {
    const [row] = await owner<Array<{ id: string }>>`
      insert into exports (user_id, status, expires_at, created_at)
      values (${ivan.id}, ${status}, ${status === 'ready' ? owner`now() + interval '1 hour'` : null}, now() - make_interval(hours => ${ageHours}))
      returning id`
    return row!.id
  }
  const oldest = await insert('ready', 20)
  const counted = [oldest]
  for (let i = 0; i < 4; i++) counted.push(await insert('ready', 1))
  await insert('failed', 1) // our failure: not counted against the user
  await insert('ready', 30) // outside the window
  const before = await exportsOf(ivan.id)

  const limited = await ivan.client.post('/v1/me/exports')
  expectProblem(tt, limited, 429, 'rate_limited', 'the 6th export within 24 h')
  const retryAfter = Number(limited.headers['retry-after'])
  tt.ok(Math.abs(retryAfter - 4 * 3600) <= 60, `Retry-After ${String(limited.headers['retry-after'])}: when the oldest of the 5 leaves the window`)
  tt.equal(limited.headers['cache-control'], 'no-store')
  tt.same(await exportsOf(ivan.id), before, 'nothing was queued')
  expectStatus(await victor.client.post('/v1/me/exports'), 202, 'another user is not limited')

  await owner`update exports set status = 'pending', expires_at = null where id = ${counted[4]!}`
  const waiting = await ivan.client.post('/v1/me/exports')
  expectStatus(waiting, 202, 'a waiting export is answered again, cap or not')
  tt.same(waiting.json(), { export: { id: counted[4], status: 'pending' } })
  await owner`update exports set status = 'ready', expires_at = now() + interval '1 hour' where id = ${counted[4]!}`

  await owner`update exports set created_at = now() - interval '25 hours' where id = ${oldest}`
  const next = await ivan.client.post('/v1/me/exports')
  expectStatus(next, 202, 'once the oldest left the window, a new one is queued')
  tt.notOk(before.includes((next.json() as { export: ExportView }).export.id), 'a new export')
})

t.test('DELETE /v1/me is refused without the password, or while the caller is a last owner with others', async tt => {
  const dan = await caller('Dan Owner')
  const member = await caller('Dan\'s Colleague')
  const slug = await createTenantAs(dan)
  await addMemberAs(dan, slug, member, 'admin')
  const deleteMe = (payload: object) => app.inject({ method: 'DELETE', url: '/v1/me', headers: bearer(dan.token), payload })

  const wrong = await deleteMe({ password: `${PASSWORD}!` })
  expectProblem(tt, wrong, 403, 'forbidden', 'wrong password')
  tt.equal(wrong.headers['cache-control'], 'no-store')
  expectInvalid(tt, await deleteMe({}), '/password', 'no password')
  expectInvalid(tt, await deleteMe({ password: PASSWORD, reason: 'bored' }), '/reason', 'unknown property')
  expectProblem(tt, await app.inject({ method: 'DELETE', url: '/v1/me', payload: { password: PASSWORD } }), 401, 'unauthenticated', 'no token')
  const blocked = expectProblem(tt, await deleteMe({ password: PASSWORD }), 409, 'conflict', 'last owner with another member')
  tt.match(blocked.detail, slug, 'names the tenant to hand over')

  const [outbox] = await owner<Array<{ count: number }>>`select count(*)::int as count from outbox where job_name = ${DELETE_ACCOUNT_JOB} and payload->>'userId' = ${dan.id}`
  tt.equal(outbox?.count, 0, 'nothing was enqueued')
  tt.equal((await dan.client.get('/v1/me')).statusCode, 200, 'the account is untouched')
})

t.test('a deleted account is anonymized: no login, no tokens, articles and audit kept under a deleted user', async tt => {
  const erin = await caller('Erin Leaving')
  const frank = await caller('Frank Staying')
  const grace = await caller('Grace Heir')
  const alone = await createTenantAs(erin)
  const shared = await createTenantAs(frank)
  const handedOver = await createTenantAs(erin)
  await addMemberAs(frank, shared, erin, 'admin')
  await addMemberAs(erin, handedOver, grace, 'viewer')
  const article = await writeArticle(erin, shared, 'Erin was here')
  await writeArticle(erin, alone, 'Erin alone')
  const { id: exportId } = await readyExport(erin)
  const session = await login(app, erin.email, PASSWORD)
  // a route that reads nothing of users: only authentication (its cached user, dropped by the job) can refuse it
  const probe = `/v1/me/exports/${randomUUID()}`
  expectProblem(tt, await erin.client.get(probe), 404, 'not_found', 'before: the token authenticates (and its user is cached)')

  expectProblem(tt, await erin.client.delete('/v1/me'), 400, 'validation_failed', 'DELETE without a body')
  expectProblem(tt, await app.inject({ method: 'DELETE', url: '/v1/me', headers: bearer(erin.token), payload: { password: PASSWORD } }),
    409, 'conflict', 'the last owner of a tenant with a member')
  expectStatus(await erin.client.patch(`/v1/members/${grace.id}`, { role: 'owner' }, { 'x-tenant': handedOver }), 200, 'hand over ownership')
  const accepted = await app.inject({ method: 'DELETE', url: '/v1/me', headers: bearer(erin.token), payload: { password: PASSWORD } })
  tt.equal(accepted.statusCode, 202, '202 Accepted')
  tt.equal(accepted.body, '', 'no body')
  tt.equal(accepted.headers['cache-control'], 'no-store')
  const requestId = accepted.headers['x-request-id']
  await jobCompleted(`privacy-delete-${erin.id}`)

  await waitFor('the old access token is refused', async () => (await erin.client.get(probe)).statusCode === 401, 3_000).catch(() => {})
  expectProblem(tt, await erin.client.get(probe), 401, 'unauthenticated', 'old access token, at once')
  expectProblem(tt, await erin.client.get('/v1/me'), 401, 'unauthenticated', 'old access token on /v1/me')
  expectProblem(tt, await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: erin.email, password: PASSWORD } }),
    401, 'unauthenticated', 'login')
  expectProblem(tt, await app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refresh_token: session.refresh_token } }),
    401, 'unauthenticated', 'refresh token')

  const articles = await frank.client.get('/v1/articles?limit=100', { 'x-tenant': shared })
  const kept = (articles.json() as { data: Array<{ id: string, author: { id: string, name: string } }> }).data.find(a => a.id === article)
  tt.same(kept?.author, { id: erin.id, name: 'Deleted user' }, 'the article stays, by a deleted user')

  const byErin = await frank.client.get(`/v1/audit-log?actor_id=${erin.id}&limit=100`, { 'x-tenant': shared })
  const entries = (byErin.json() as { data: Array<{ actor: { id: string, name: string } | null, action: string }> }).data
  tt.ok(entries.some(e => e.action === 'created'), 'its audit entries stay')
  tt.ok(entries.every(e => e.actor?.id === erin.id && e.actor.name === 'Deleted user'), 'with the actor id and the anonymized name')
  for (const slug of [shared, handedOver]) {
    const who = slug === shared ? frank : grace
    const log = await who.client.get(`/v1/audit-log?object_type=user&object_id=${erin.id}`, { 'x-tenant': slug })
    tt.match((log.json() as { data: unknown[] }).data, [{ action: 'anonymized', actor: null, request_id: requestId, changes: { role: [slug === shared ? 'admin' : 'owner', null] } }],
      `one 'anonymized' entry in ${slug}, by the job of the request`)
    const members = (await who.client.get('/v1/members?limit=100', { 'x-tenant': slug })).json() as { data: Array<{ user: { id: string } }> }
    tt.notOk(members.data.some(m => m.user.id === erin.id), `no longer a member of ${slug}`)
  }

  tt.same(await owner`select slug from tenants where slug = ${alone}`, [], 'the tenant it was alone in is gone')
  tt.same(await owner`select id from articles where title = 'Erin alone'`, [], 'with its articles')
  tt.equal((await owner`select 1 from tenants where slug = ${handedOver}`).length, 1, 'a tenant with another owner stays')
  const [row] = await owner<Array<{ name: string, email: string, deleted: boolean }>>`
    select name, email, deleted_at is not null as deleted from users where id = ${erin.id}`
  tt.match(row, { name: 'Deleted user', deleted: true })
  tt.not(row?.email.toLowerCase(), erin.email.toLowerCase(), 'the email is replaced')
  tt.same(await owner`select id from refresh_tokens where user_id = ${erin.id} and revoked_at is null`, [], 'every refresh token revoked')
  tt.same(await owner`select id from exports where id = ${exportId}`, [], 'its exports are deleted')

  const again = await app.inject({ method: 'POST', url: '/v1/auth/register', payload: { email: erin.email, password: PASSWORD, name: 'Erin Again' } })
  tt.equal(again.statusCode, 201, 'the address registers again')
  tt.not((again.json() as { user: { id: string } }).user.id, erin.id, 'as a new user')
  tt.ok((await login(app, erin.email, PASSWORD)).access_token, 'who can log in')
})

t.test('account deletion anonymizes the email in receipts and in stored payment event payloads, and only the user\'s', async tt => {
  const tara = await caller('Tara Paying')
  const uma = await caller('Uma Staying')
  const slug = await createTenantAs(tara)
  await addMemberAs(tara, slug, uma, 'owner')
  const [tenant] = await owner<Array<{ id: string }>>`select id from tenants where slug = ${slug}`
  const tenantId = tenant!.id
  const event = (id: string, email: string) => ({
    id,
    type: 'invoice.paid',
    created: 1_700_000_000,
    data: { tenant_id: tenantId, subscription_id: 'sub_1', plan: 'pro', status: 'active', invoice_id: `in_${id}`, amount_cents: 1200, email }
  })
  const taraEvent = `evt_tara_${unique()}`
  const umaEvent = `evt_uma_${unique()}`
  for (const [id, email] of [[taraEvent, tara.email.toUpperCase()], [umaEvent, uma.email]] as const) {
    await owner`insert into payment_events (id, type, created, tenant_id, payload, status)
      values (${id}, 'invoice.paid', now(), ${tenantId}, ${owner.json(event(id, email))}, 'processed')`
    await owner`insert into receipts (tenant_id, invoice_id, event_id, email, message_id, amount_cents)
      values (${tenantId}, ${`in_${id}`}, ${id}, ${email}, ${`<${id}@test>`}, 1200)`
  }

  const accepted = await app.inject({ method: 'DELETE', url: '/v1/me', headers: bearer(tara.token), payload: { password: PASSWORD } })
  expectStatus(accepted, 202, 'delete')
  await jobCompleted(`privacy-delete-${tara.id}`)

  const billing = async () => ({
    receipts: await owner<Array<{ event_id: string, email: string }>>`select event_id, email from receipts where tenant_id = ${tenantId} order by event_id`,
    events: await owner<Array<{ id: string, payload: unknown }>>`select id, payload from payment_events where tenant_id = ${tenantId} order by id`
  })
  const after = await billing()
  tt.notOk(JSON.stringify(after).toLowerCase().includes(tara.email.toLowerCase()), 'her address is nowhere in receipts or payment events')
  tt.same(after.receipts.find(r => r.event_id === taraEvent)?.email, anonymizedEmail(tara.id), 'her receipt names the anonymized address')
  const stored = after.events.find(e => e.id === taraEvent)?.payload as { data: Record<string, unknown> } | undefined
  tt.notOk(stored !== undefined && 'email' in stored.data, 'her event payload keeps no email')
  tt.match(stored, { id: taraEvent, data: { invoice_id: `in_${taraEvent}`, plan: 'pro' } }, 'the rest of the payload stays')
  tt.same(after.receipts.find(r => r.event_id === umaEvent)?.email, uma.email, 'another user\'s receipt is untouched')
  tt.match(after.events.find(e => e.id === umaEvent)?.payload, { data: { email: uma.email } }, 'another user\'s event is untouched')

  await runAgain(DELETE_ACCOUNT_JOB, { userId: tara.id })
  tt.same(await billing(), after, 'a second run changes nothing')
})

/** The state a job may touch, read as the owner (past row-level security). */
async function snapshot (userId: string): Promise<unknown> {
  const [row] = await owner<Array<{ state: unknown }>>`select jsonb_build_object(
    'user', (select to_jsonb(u) from users u where id = ${userId}),
    'memberships', (select jsonb_agg(to_jsonb(m) order by m.tenant_id, m.user_id) from memberships m),
    'tenants', (select jsonb_agg(to_jsonb(x) order by x.id) from tenants x),
    'articles', (select jsonb_agg(to_jsonb(a) order by a.tenant_id, a.id) from articles a),
    'audit', (select jsonb_agg(to_jsonb(a) order by a.tenant_id, a.id) from audit_log a),
    'tokens', (select jsonb_agg(to_jsonb(r) order by r.id) from refresh_tokens r where r.user_id = ${userId}),
    'exports', (select jsonb_agg(to_jsonb(e) order by e.id) from exports e where e.user_id = ${userId})
  ) as state`
  return row?.state
}

t.test('each privacy job run twice leaves the same state as once', async tt => {
  tt.test(EXPORT_JOB, async t2 => {
    const hank = await caller('Hank Twice')
    await writeArticle(hank, await createTenantAs(hank), 'Hank once')
    const { id } = await readyExport(hank)
    const once = await snapshot(hank.id)
    await runAgain(EXPORT_JOB, { exportId: id })
    t2.same(await snapshot(hank.id), once, 'a second run changes nothing')
  })

  tt.test(DELETE_ACCOUNT_JOB, async t2 => {
    const ivy = await caller('Ivy Twice')
    const jack = await caller('Jack Host')
    await createTenantAs(ivy)
    const shared = await createTenantAs(jack)
    await addMemberAs(jack, shared, ivy, 'editor')
    await writeArticle(ivy, shared, 'Ivy stays in print')
    await login(app, ivy.email, PASSWORD)
    const accepted = await app.inject({ method: 'DELETE', url: '/v1/me', headers: bearer(ivy.token), payload: { password: PASSWORD } })
    expectStatus(accepted, 202, 'delete')
    await jobCompleted(`privacy-delete-${ivy.id}`)
    const once = await snapshot(ivy.id)
    await runAgain(DELETE_ACCOUNT_JOB, { userId: ivy.id })
    t2.same(await snapshot(ivy.id), once, 'a second run changes nothing')
  })

  tt.test(PURGE_EXPORTS_JOB, async t2 => {
    const jill = await caller('Jill Purged')
    const { id: stale } = await readyExport(jill)
    const { id: fresh } = await readyExport(jill)
    await owner`update exports set expires_at = now() - interval '1 second' where id = ${stale}`
    await runAgain(PURGE_EXPORTS_JOB, {})
    const documents = await owner<Array<{ id: string, kept: boolean }>>`select id, document is not null as kept from exports where user_id = ${jill.id}`
    t2.same(Object.fromEntries(documents.map(d => [d.id, d.kept])), { [stale]: false, [fresh]: true }, 'only the expired document is dropped')
    t2.equal((await exportView(jill, stale)).status, 'expired', 'its owner still sees it expired')
    t2.equal((await jill.client.get(`/v1/me/exports/${fresh}/download`)).statusCode, 200, 'the live one still downloads')
    const once = await snapshot(jill.id)
    await runAgain(PURGE_EXPORTS_JOB, {})
    t2.same(await snapshot(jill.id), once, 'a second run changes nothing')
  })
})

t.test('the deletion job re-checks ownership: a user who became a last owner with others is left whole', async (tt: Test) => {
  const kim = await caller('Kim Late Owner')
  const lee = await caller('Lee Newcomer')
  const slug = await createTenantAs(kim)
  await addMemberAs(kim, slug, lee, 'viewer')
  const before = await snapshot(kim.id)
  await tt.rejects(anonymizeAccount(database, kim.id), DeletionBlockedError)
  tt.same(await snapshot(kim.id), before, 'nothing changed')
})

t.test('a deletion the job finds blocked leaves the account whole and tells the user by email, once', async tt => {
  const nina = await caller('Nina Late Owner')
  const omar = await caller('Omar Newcomer')
  const slug = await createTenantAs(nina)
  // her request was accepted while she was alone; someone joined before the job ran
  await addMemberAs(nina, slug, omar, 'viewer')
  const before = await snapshot(nina.id)
  const mailsBefore = smtp.messages.length
  const outboxId = await database.transaction(null, tx => enqueue(tx, { queue: 'privacy', name: DELETE_ACCOUNT_JOB, payload: { userId: nina.id }, tenantId: null }))
  const jobId = `outbox-${outboxId}`
  await waitFor(`job ${jobId} failed for good`, async () => await (await queues.get('privacy').getJob(jobId))?.getState() === 'failed', 15_000)

  const mails = smtp.messages.slice(mailsBefore)
  tt.equal(mails.length, 1, 'one email')
  tt.same(mails[0]?.to, [nina.email], 'to the user')
  tt.equal(mails[0]?.headers.subject, 'Your account was not deleted')
  tt.match(mails[0]?.body.replace(/=\r?\n/g, ''), slug, 'naming the tenant to hand over')
  tt.same(await snapshot(nina.id), before, 'the account is whole')
  tt.equal((await nina.client.get('/v1/me')).statusCode, 200, 'and still works')

  // the same job run again (a duplicate delivery): it ends the same way, without a second email
  await tt.rejects(privacyJobs.get(DELETE_ACCOUNT_JOB)!.handler({ userId: nina.id }, jobContext(jobId)), UnrecoverableError)
  tt.equal(smtp.messages.length, mailsBefore + 1, 'no second email')
})

t.test('a deletion-blocked email that cannot be sent claims nothing: the retry sends it', async tt => {
  const paul = await caller('Paul Late Owner')
  const quinn = await caller('Quinn Newcomer')
  await addMemberAs(paul, await createTenantAs(paul), quinn, 'viewer')
  const away = await startSmtpServer(tt)
  await away.close()
  const failing = registerPrivacyJobs(new JobRegistry(), { config, mailer: createMailer({ SMTP_URL: away.url, MAIL_FROM: config.MAIL_FROM }, 2_000) })
  const job = jobContext('manual-blocked-retry')

  const error = await failing.get(DELETE_ACCOUNT_JOB)!.handler({ userId: paul.id }, job).then(() => undefined, (failure: unknown) => failure)
  tt.ok(error instanceof Error, 'the job fails while the SMTP server is away')
  tt.notOk(error instanceof UnrecoverableError, 'as a failure the worker retries')
  tt.same(await owner`select key from processed_jobs where key = ${'deletion-blocked:manual-blocked-retry'}`, [], 'and leaves no claim behind')

  const mailsBefore = smtp.messages.length
  await tt.rejects(privacyJobs.get(DELETE_ACCOUNT_JOB)!.handler({ userId: paul.id }, job), UnrecoverableError)
  tt.equal(smtp.messages.length, mailsBefore + 1, 'the retry sends the email')
  tt.same(smtp.messages.at(-1)?.to, [paul.email])
})
