import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { registerBillingJobs } from '../../../src/features/billing/jobs.ts'
import { runWithContext } from '../../../src/context.ts'
import { createSql, type Sql } from '../../../src/platform/db/client.ts'
import { JobRegistry } from '../../../src/platform/jobs/index.ts'
import { createMailer } from '../../../src/platform/mail-transport.ts'
import { buildTestApp, type TestApp } from '../../helpers/app.ts'
import { clientOf, expectProblem } from '../../helpers/http.ts'
import { directJobContexts, startTestWorker } from '../../helpers/jobs.ts'
import { waitFor } from '../../helpers/wait.ts'
import { deliver, nowSeconds, paymentEvent, webhookEnv } from '../../helpers/payments.ts'
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp.ts'
import { createTenant, relaxedAuthLimits, type TestTenant } from '../../helpers/tenants.ts'

const MAIL_FROM = 'Atrium Billing <billing@atrium.example>'

interface Stack extends TestApp {
  smtp: TestSmtpServer
  owner: Sql
  registry: JobRegistry
}

/** An app on its own database, a real SMTP server, and the billing job types wired to it. */
async function stack (tt: Test): Promise<Stack> {
  const smtp = await startSmtpServer(tt)
  const testApp = await buildTestApp(tt, { env: { ...webhookEnv, ...relaxedAuthLimits, SMTP_URL: smtp.url, MAIL_FROM } })
  const owner = createSql(testApp.db.ownerUrl, { max: 2 })
  tt.teardown(() => owner.end({ timeout: 5 }))
  const registry = registerBillingJobs(new JobRegistry(), { mailer: createMailer({ SMTP_URL: smtp.url, MAIL_FROM }) })
  return { ...testApp, smtp, owner, registry }
}

const eventStatus = async (owner: Sql, id: string): Promise<string | undefined> =>
  (await owner<Array<{ status: string }>>`select status from payment_events where id = ${id}`)[0]?.status

const settled = (owner: Sql, id: string) =>
  waitFor(`event ${id} processed or ignored`, async () => {
    const status = await eventStatus(owner, id)
    return status !== undefined && status !== 'pending' ? status : undefined
  }, 15_000)

// ---------------------------------------------------------------------------------------------
// With a worker: what a client and the tenant's admins see
// ---------------------------------------------------------------------------------------------

t.test('with a worker running', async tt => {
  const s = await stack(tt)
  const { queues } = await startTestWorker(tt, s.db, s.registry, { env: { SMTP_URL: s.smtp.url, MAIL_FROM } })
  const a = await createTenant(s.app)
  const b = await createTenant(s.app)
  const as = (tenant: TestTenant, role: 'owner' | 'admin' | 'editor' | 'viewer') => clientOf(s.app, tenant[role].token)

  /** No job left to relay, waiting or running (processing enqueues receipts, so both queues count). */
  const quiet = async (): Promise<boolean> => {
    const [row] = await s.owner<Array<{ pending: number }>>`select count(*)::int as pending from outbox where relayed_at is null`
    if (row?.pending !== 0) return false
    for (const queue of ['billing', 'mail']) {
      const counts = await queues.get(queue).getJobCounts('waiting', 'active', 'delayed', 'prioritized')
      if (Object.values(counts).some(count => count > 0)) return false
    }
    return true
  }

  await tt.test('GET /v1/subscription is 404 not_found before any event', async t2 => {
    expectProblem(t2, await as(a, 'admin').get('/v1/subscription'), 404, 'not_found')
  })

  await tt.test('50 concurrent deliveries of one invoice.paid event: one processed event, one email', async t2 => {
    const periodEnd = nowSeconds() + 30 * 86_400
    const event = paymentEvent({
      type: 'invoice.paid',
      data: {
        tenant_id: a.id,
        subscription_id: 'sub_a',
        plan: 'team',
        status: 'active',
        current_period_end: periodEnd,
        invoice_id: 'in_0001',
        amount_cents: 4_900,
        email: 'billing@customer.example'
      }
    })
    const requestIds = Array.from({ length: 50 }, (_, i) => `req-delivery-${i}`)
    const responses = await Promise.all(requestIds.map(requestId => deliver(s.app, event, { requestId })))
    t2.same([...new Set(responses.map(r => r.statusCode))], [200], 'every delivery is acknowledged')

    t2.equal(await settled(s.owner, event.id as string), 'processed')
    await waitFor('the receipt was sent', () => s.smtp.messages.length > 0, 15_000)
    await waitFor('no job left to run', quiet, 15_000)
    await sleep(1_000) // a relay poll and more: a second job or email would show by now

    t2.equal(s.smtp.messages.length, 1, 'exactly one email')
    const [mail] = s.smtp.messages
    t2.same(mail?.to, ['billing@customer.example'], 'to the address the event names')
    t2.equal(mail?.from, 'billing@atrium.example')
    t2.match(mail?.headers.subject, /in_0001/)
    t2.match(mail?.body, /49\.00/)
    const [receipt] = await s.owner<Array<{ message_id: string, event_id: string }>>`
      select message_id, event_id from receipts where tenant_id = ${a.id} and invoice_id = 'in_0001'`
    t2.equal(mail?.headers['message-id'], receipt?.message_id, 'the Message-ID recorded is the one sent')
    t2.match(receipt?.message_id, /^<receipt\.[0-9a-f]{40}@atrium\.example>$/, 'a stable Message-ID derived from the invoice')

    const jobs = await s.owner<Array<{ job_name: string, request_id: string }>>`
      select job_name, request_id from outbox where payload->>'event_id' = ${event.id as string} order by id`
    t2.same(jobs.map(j => j.job_name), ['billing.process-event', 'billing.send-receipt'], 'one processing job and one receipt job')
    const deliveryId = jobs[0]?.request_id ?? ''
    t2.ok(requestIds.includes(deliveryId), 'the processing job carries the request id of the delivery that recorded the event')
    t2.equal(jobs[1]?.request_id, deliveryId, 'so does the receipt job it caused')

    const response = await as(a, 'admin').get('/v1/subscription')
    t2.equal(response.statusCode, 200)
    const body = response.json()
    t2.same(Object.keys(body).sort(), ['current_period_end', 'plan', 'status', 'updated_at'])
    t2.match(body, { plan: 'team', status: 'active', current_period_end: new Date(periodEnd * 1000).toISOString() })

    const audit = await as(a, 'admin').get('/v1/audit-log?object_type=subscription')
    const entries = audit.json().data as Array<Record<string, unknown>>
    t2.equal(entries.length, 1, 'one audit entry')
    t2.match(entries[0], {
      actor: null,
      action: 'subscription_changed',
      object_id: 'sub_a',
      request_id: deliveryId,
      changes: { plan: [null, 'team'], status: [null, 'active'], subscription_id: [null, 'sub_a'] }
    })
  })

  await tt.test('who may read the subscription: admin and owner; editor and viewer are 403; other tenants never see it', async t2 => {
    t2.equal((await as(a, 'owner').get('/v1/subscription')).statusCode, 200, 'owner')
    t2.equal((await as(a, 'admin').get('/v1/subscription')).statusCode, 200, 'admin')
    expectProblem(t2, await as(a, 'editor').get('/v1/subscription'), 403, 'forbidden', 'editor')
    expectProblem(t2, await as(a, 'viewer').get('/v1/subscription'), 403, 'forbidden', 'viewer')
    expectProblem(t2, await as(b, 'admin').get('/v1/subscription'), 404, 'not_found', "B's admin: B never had one, A's is not shown")
    expectProblem(t2, await as(b, 'owner').get('/v1/subscription', { 'x-tenant': a.slug }), 404, 'tenant_not_found', "B's owner naming A")
    expectProblem(t2, await clientOf(s.app, null, { 'x-tenant': a.slug }).get('/v1/subscription'), 401, 'unauthenticated', 'no token')
  })

  await tt.test('invoice.paid without an email sends the receipt to the tenant owner', async t2 => {
    const before = s.smtp.messages.length
    const event = paymentEvent({ type: 'invoice.paid', data: { tenant_id: b.id, subscription_id: 'sub_b', invoice_id: 'in_b_1', amount_cents: 1_000 } })
    t2.equal((await deliver(s.app, event)).statusCode, 200)
    await waitFor('the receipt to the owner', () => s.smtp.messages.length > before, 15_000)
    t2.same(s.smtp.messages.at(-1)?.to, [b.owner.email.toLowerCase()])
  })

  await tt.test('subscription.canceled arriving before an older subscription.activated leaves it canceled', async t2 => {
    const c = await createTenant(s.app)
    const t0 = nowSeconds() - 600
    const canceled = paymentEvent({ type: 'subscription.canceled', created: t0 + 60, data: { tenant_id: c.id, subscription_id: 'sub_c', plan: 'pro', status: 'canceled' } })
    const activated = paymentEvent({ type: 'subscription.activated', created: t0, data: { tenant_id: c.id, subscription_id: 'sub_c', plan: 'pro', status: 'active', current_period_end: t0 + 86_400 } })
    t2.equal((await deliver(s.app, canceled)).statusCode, 200)
    t2.equal(await settled(s.owner, canceled.id as string), 'processed')
    t2.equal((await deliver(s.app, activated)).statusCode, 200)
    t2.equal(await settled(s.owner, activated.id as string), 'processed', 'the late event is processed (considered)...')
    const after = (await as(c, 'admin').get('/v1/subscription')).json()
    t2.match(after, { plan: 'pro', status: 'canceled' }, '...and changes nothing')
    t2.notOk('current_period_end' in after, 'nothing of the older event leaks in')

    // same created: the one processed first wins
    const sameSecond = paymentEvent({ type: 'subscription.updated', created: t0 + 60, data: { tenant_id: c.id, subscription_id: 'sub_c', plan: 'max', status: 'past_due' } })
    t2.equal((await deliver(s.app, sameSecond)).statusCode, 200)
    t2.equal(await settled(s.owner, sameSecond.id as string), 'processed')
    t2.match((await as(c, 'admin').get('/v1/subscription')).json(), { plan: 'pro', status: 'canceled' }, 'an event as old as the state applied changes nothing')

    const newer = paymentEvent({ type: 'subscription.activated', created: t0 + 120, data: { tenant_id: c.id, subscription_id: 'sub_c2', plan: 'max', status: 'active' } })
    t2.equal((await deliver(s.app, newer)).statusCode, 200)
    t2.equal(await settled(s.owner, newer.id as string), 'processed')
    t2.match((await as(c, 'admin').get('/v1/subscription')).json(), { plan: 'max', status: 'active' }, 'a newer event applies')
    const audit = (await as(c, 'admin').get('/v1/audit-log?object_type=subscription')).json().data as Array<{ changes: object }>
    t2.equal(audit.length, 2, 'audited: the cancellation and the newer activation, not the stale events')
  })

  await tt.test('an unknown tenant or type is acknowledged and recorded as ignored, changing nothing', async t2 => {
    const unknownTenant = paymentEvent({ type: 'subscription.activated', data: { tenant_id: randomUUID(), plan: 'free' } })
    const unknownType = paymentEvent({ type: 'customer.discount_applied', data: { tenant_id: a.id, plan: 'free', status: 'canceled' }, extra: { any: 'thing' } })
    const paidForNobody = paymentEvent({ type: 'invoice.paid', data: { tenant_id: randomUUID(), invoice_id: 'in_nobody', email: 'x@example.test' } })
    const mailsBefore = s.smtp.messages.length
    for (const event of [unknownTenant, unknownType, paidForNobody]) {
      t2.equal((await deliver(s.app, event)).statusCode, 200)
      t2.equal(await settled(s.owner, event.id as string), 'ignored')
    }
    t2.match((await as(a, 'admin').get('/v1/subscription')).json(), { plan: 'team', status: 'active' }, "A's subscription is unchanged")
    await waitFor('no job left to run', quiet, 15_000)
    t2.equal(s.smtp.messages.length, mailsBefore, 'no receipt for an unknown tenant')
  })
})

// ---------------------------------------------------------------------------------------------
// Without a worker: every job type run by hand, twice in a row
// ---------------------------------------------------------------------------------------------

/** Everything billing jobs write, as the owner sees it (past row-level security). */
async function billingState (owner: Sql): Promise<unknown> {
  const [state] = await owner`select
    (select coalesce(json_agg(e order by e.id), '[]') from (select id, status, processed_at from payment_events) e) as events,
    (select coalesce(json_agg(s order by s.tenant_id), '[]') from subscriptions s) as subscriptions,
    (select coalesce(json_agg(r order by r.invoice_id), '[]') from receipts r) as receipts,
    (select coalesce(json_agg(a order by a.id), '[]') from (
      select id, actor_id, action, object_type, object_id, changes, request_id from audit_log where action = 'subscription_changed') a) as audit,
    (select coalesce(json_agg(o order by o.id), '[]') from (select id, queue, job_name, payload, tenant_id, request_id from outbox) o) as outbox`
  return state
}

t.test('every billing job type run twice in a row leaves the state of one run, and one email', async tt => {
  const s = await stack(tt)
  const tenant = await createTenant(s.app)
  const jobContext = directJobContexts(tt, s.db, s.config)

  async function run (name: string, payload: Record<string, string>, requestId: string): Promise<void> {
    const type = s.registry.get(name)
    if (type === undefined) throw new Error(`${name} is not registered`)
    const job = jobContext(`manual-${name}`)
    await runWithContext({ requestId, route: `job:${name}` }, () => type.handler(payload, job))
  }

  async function twice (t2: Test, label: string, name: string, payload: Record<string, string>): Promise<void> {
    await run(name, payload, 'req-first-run')
    const once = await billingState(s.owner)
    await run(name, payload, 'req-second-run')
    t2.same(await billingState(s.owner), once, `${label}: the second run changed nothing`)
  }

  const t0 = nowSeconds() - 3_600
  const events = [
    paymentEvent({ type: 'subscription.activated', created: t0, data: { tenant_id: tenant.id, plan: 'pro', status: 'active', current_period_end: t0 + 86_400 } }),
    paymentEvent({ type: 'subscription.updated', created: t0 + 10, data: { tenant_id: tenant.id, plan: 'max', status: 'past_due', current_period_end: t0 + 86_400 } }),
    paymentEvent({ type: 'invoice.paid', created: t0 + 20, data: { tenant_id: tenant.id, plan: 'max', status: 'active', invoice_id: 'in_twice', amount_cents: 990 } }),
    paymentEvent({ type: 'subscription.canceled', created: t0 + 30, data: { tenant_id: tenant.id, plan: 'max', status: 'canceled' } }),
    paymentEvent({ type: 'subscription.activated', created: t0 - 10, data: { tenant_id: tenant.id, plan: 'old', status: 'active' } }),
    paymentEvent({ type: 'no.such.type', data: { tenant_id: tenant.id } }),
    paymentEvent({ type: 'subscription.activated', data: { tenant_id: randomUUID() } })
  ]
  for (const event of events) tt.equal((await deliver(s.app, event)).statusCode, 200)

  for (const event of events) {
    await twice(tt, `billing.process-event (${String(event.type)})`, 'billing.process-event', { event_id: event.id as string })
  }
  const statuses = await s.owner<Array<{ id: string, status: string }>>`select id, status from payment_events`
  const statusOf = new Map(statuses.map(row => [row.id, row.status]))
  tt.same(events.map(e => statusOf.get(e.id as string)), ['processed', 'processed', 'processed', 'processed', 'processed', 'ignored', 'ignored'])
  tt.match((await clientOf(s.app, tenant.admin.token).get('/v1/subscription')).json(), { plan: 'max', status: 'canceled' })

  const [receiptJob] = await s.owner<Array<{ payload: Record<string, string> }>>`
    select payload from outbox where job_name = 'billing.send-receipt'`
  tt.same(receiptJob?.payload, { event_id: events[2]?.id, tenant_id: tenant.id }, 'processing invoice.paid enqueued its receipt once')
  await twice(tt, 'billing.send-receipt', 'billing.send-receipt', receiptJob?.payload ?? {})
  tt.equal(s.smtp.messages.length, 1, 'one email after two runs')
  tt.same(s.smtp.messages[0]?.to, [tenant.owner.email.toLowerCase()], 'to the owner: the event names no email')

  await Promise.all([1, 2, 3].map(i => run('billing.send-receipt', receiptJob?.payload ?? {}, `req-concurrent-${i}`)))
  tt.equal(s.smtp.messages.length, 1, 'still one email after three concurrent runs')
})

t.test('a failed send claims nothing: the retry sends the receipt', async tt => {
  const s = await stack(tt)
  const tenant = await createTenant(s.app)
  const event = paymentEvent({ type: 'invoice.paid', data: { tenant_id: tenant.id, invoice_id: 'in_retry', email: 'retry@customer.example' } })
  tt.equal((await deliver(s.app, event)).statusCode, 200)
  const job = directJobContexts(tt, s.db, s.config)('manual')
  const context = { requestId: 'req-retry', route: 'job:manual' }
  await runWithContext(context, () => s.registry.get('billing.process-event')!.handler({ event_id: event.id as string }, job))
  const payload = { event_id: event.id as string, tenant_id: tenant.id }

  await s.smtp.close() // the SMTP server is away
  const failing = registerBillingJobs(new JobRegistry(), { mailer: createMailer({ SMTP_URL: s.smtp.url, MAIL_FROM }, 2_000) })
  await tt.rejects(runWithContext(context, () => failing.get('billing.send-receipt')!.handler(payload, job)), 'the send fails, so the job fails')
  tt.same(await s.owner`select invoice_id from receipts`, [], 'and leaves no claim behind')

  const smtp = await startSmtpServer(tt)
  const working = registerBillingJobs(new JobRegistry(), { mailer: createMailer({ SMTP_URL: smtp.url, MAIL_FROM }) })
  await runWithContext(context, () => working.get('billing.send-receipt')!.handler(payload, job))
  tt.equal(smtp.messages.length, 1, 'the retry sends it')
  tt.match(await s.owner`select invoice_id from receipts`, [{ invoice_id: 'in_retry' }])
})
