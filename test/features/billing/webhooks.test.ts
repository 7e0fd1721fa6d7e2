import t from 'tap'
import { randomUUID } from 'node:crypto'
import { createSql } from '../../../src/platform/db/client.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { expectInvalid, expectProblem } from '../../helpers/http.ts'
import {
  deliver, nowSeconds, paymentEvent, ROTATED_WEBHOOK_SECRET, signatureHeader, uniqueEventId, WEBHOOK_SECRET, webhookEnv
} from '../../helpers/payments.ts'

/**
 * POST /v1/webhooks/payments, the ingestion side (no worker runs here): the signature is checked
 * first on the raw bytes, then JSON, then the shape; a new event is recorded with its job's outbox
 * row in one go, a duplicate is acknowledged and recorded nothing.
 */
const { app, db } = await buildTestApp(t, { env: webhookEnv })
const owner = createSql(db.ownerUrl, { max: 2 })
t.teardown(() => owner.end({ timeout: 5 }))

interface EventRow { id: string, type: string, created: Date, tenant_id: string | null, payload: Record<string, unknown>, status: string }
interface OutboxRow { queue: string, job_name: string, payload: Record<string, unknown>, tenant_id: string | null, request_id: string | null }

const eventRows = (id: string) => owner<EventRow[]>`select id, type, created, tenant_id, payload, status from payment_events where id = ${id}`
const jobRows = (id: string) => owner<OutboxRow[]>`
  select queue, job_name, payload, tenant_id, request_id from outbox where payload->>'event_id' = ${id}`

t.test('a signed event is acknowledged and recorded, pending, with one outbox row for its processing job', async tt => {
  const tenantId = randomUUID()
  const event = paymentEvent({ type: 'subscription.activated', created: 1_700_000_000, data: { tenant_id: tenantId, current_period_end: 1_702_592_000 } })
  const response = await deliver(app, event, { requestId: 'req-webhook-1' })
  tt.equal(response.statusCode, 200)
  tt.same(response.json(), { received: true })
  tt.equal(response.headers['x-route'], 'POST /v1/webhooks/payments')

  const [row] = await eventRows(event.id as string)
  tt.match(row, { type: 'subscription.activated', tenant_id: tenantId, status: 'pending' })
  tt.equal(row?.created.toISOString(), '2023-11-14T22:13:20.000Z', 'created is stored as the instant it names')
  tt.same(row?.payload, event, 'the event is kept as received')
  tt.same(await jobRows(event.id as string), [{
    queue: 'billing', job_name: 'billing.process-event', payload: { event_id: event.id }, tenant_id: null, request_id: 'req-webhook-1'
  }], 'one job, carrying only the event id and the delivery\'s request id')
})

t.test('signatures that do not hold are 400 invalid_signature and record nothing', async tt => {
  const event = paymentEvent({ data: { tenant_id: randomUUID() } })
  const raw = JSON.stringify(event)
  const cases: Array<[string, Parameters<typeof deliver>[2], string?]> = [
    ['a signature made with another secret', { secret: 'not-a-secret-of-this-app' }],
    ['a timestamp 6 minutes old', { timestamp: nowSeconds() - 360 }],
    ['a timestamp 6 minutes ahead', { timestamp: nowSeconds() + 360 }],
    ['no Payments-Signature header', { header: null }],
    ['a header without a timestamp', { header: signatureHeader(raw).replace(/^t=\d+,/, '') }],
    ['a header that is not a signature', { header: 'garbage' }],
    ['a truncated digest', { header: signatureHeader(raw).slice(0, -2) }]
  ]
  for (const [label, options] of cases) {
    expectProblem(tt, await deliver(app, event, options), 400, 'invalid_signature', label)
  }
  // the provider signed these bytes; one character changed on the way
  const header = signatureHeader(raw)
  const altered = raw.replace('"plan":"pro"', '"plan":"max"')
  tt.not(altered, raw)
  expectProblem(tt, await deliver(app, altered, { header }), 400, 'invalid_signature', 'the body altered after signing')
  // whitespace counts too: the signature covers the bytes, not the parsed JSON
  expectProblem(tt, await deliver(app, `${raw} `, { header }), 400, 'invalid_signature', 'a byte appended after signing')
  tt.same(await eventRows(event.id as string), [], 'nothing was recorded')
  tt.same(await jobRows(event.id as string), [], 'nothing was enqueued')
})

t.test('a timestamp 4 minutes off either way is within the tolerance', async tt => {
  for (const offset of [-240, 240]) {
    const response = await deliver(app, paymentEvent({ data: { tenant_id: randomUUID() } }), { timestamp: nowSeconds() + offset })
    tt.equal(response.statusCode, 200, `${offset} s`)
  }
})

t.test('every configured secret verifies (rotation), and any one matching v1 entry of several is enough', async tt => {
  const rotated = paymentEvent({ data: { tenant_id: randomUUID() } })
  tt.equal((await deliver(app, rotated, { secret: ROTATED_WEBHOOK_SECRET })).statusCode, 200, 'signed with the second secret')
  tt.equal((await eventRows(rotated.id as string)).length, 1)

  const both = paymentEvent({ data: { tenant_id: randomUUID() } })
  const raw = JSON.stringify(both)
  const t0 = nowSeconds()
  const oldDigest = signatureHeader(raw, 'a-retired-secret', t0).split(',v1=')[1]
  const header = `${signatureHeader(raw, WEBHOOK_SECRET, t0)},v1=${oldDigest}`
  tt.equal((await deliver(app, raw, { header })).statusCode, 200, 'one good digest among two')
  const reversed = `t=${t0},v1=${oldDigest},${signatureHeader(raw, ROTATED_WEBHOOK_SECRET, t0).split(',')[1]}`
  tt.equal((await deliver(app, raw, { header: reversed })).statusCode, 200, 'the good digest second, duplicate acknowledged')
})

t.test('the signature is checked before the body is read: bad JSON or a bad shape unsigned is invalid_signature', async tt => {
  expectProblem(tt, await deliver(app, '{"id": ', { secret: 'wrong-secret' }), 400, 'invalid_signature', 'bad JSON, bad signature')
  expectProblem(tt, await deliver(app, { id: 1 }, { header: null }), 400, 'invalid_signature', 'bad shape, no signature')
  expectProblem(tt, await deliver(app, '{"id": '), 400, 'malformed_body', 'bad JSON, good signature')
  expectProblem(tt, await deliver(app, ''), 400, 'malformed_body', 'an empty body, good signature')
})

t.test('a signed body of the wrong shape is 400 validation_failed naming the field', async tt => {
  const tenantId = randomUUID()
  const valid = paymentEvent({ data: { tenant_id: tenantId } })
  const withData = (data: Record<string, unknown>) => ({ ...valid, id: uniqueEventId(), data: { ...(valid.data as object), ...data } })
  expectInvalid(tt, await deliver(app, { ...valid, created: 'yesterday' }), '/created', 'created not a number')
  expectInvalid(tt, await deliver(app, { type: valid.type, created: valid.created, data: valid.data }), '/id', 'no id')
  expectInvalid(tt, await deliver(app, withData({ status: 'paused' })), '/data/status', 'status outside the contract')
  expectInvalid(tt, await deliver(app, withData({ tenant_id: 'acme' })), '/data/tenant_id', 'a tenant id that is not a UUID')
  const { plan: _plan, ...noPlan } = valid.data as Record<string, unknown>
  expectInvalid(tt, await deliver(app, { ...valid, data: noPlan }), '/data/plan', 'no plan')
  tt.same(await eventRows(valid.id as string), [], 'nothing was recorded')
})

t.test('a signed event with a field of the wrong JSON type is 400 validation_failed and nothing is processed', async tt => {
  const numericId = Number(`9${Date.now()}`)
  const valid = paymentEvent({ data: { tenant_id: randomUUID(), invoice_id: 'in_1', amount_cents: 1200, email: 'billing@example.test', current_period_end: 1_702_592_000 } })
  const withData = (data: Record<string, unknown>) => ({ ...valid, id: uniqueEventId(), data: { ...(valid.data as object), ...data } })
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['an id that is a number', { ...valid, id: numericId }, '/id'],
    ['an id that is a boolean', { ...valid, id: true }, '/id'],
    ['a type that is a number', { ...valid, id: uniqueEventId(), type: 7 }, '/type'],
    ['created as a numeric string', { ...valid, id: uniqueEventId(), created: String(valid.created) }, '/created'],
    ['created as a boolean', { ...valid, id: uniqueEventId(), created: true }, '/created'],
    ['data as an array', { ...valid, id: uniqueEventId(), data: [valid.data] }, '/data'],
    ['a subscription id that is a number', withData({ subscription_id: 42 }), '/data/subscription_id'],
    ['a plan that is a number', withData({ plan: 3 }), '/data/plan'],
    ['a plan that is null', withData({ plan: null }), '/data/plan'],
    ['a plan that is an array', withData({ plan: ['pro'] }), '/data/plan'],
    ['current_period_end as a string', withData({ current_period_end: '1702592000' }), '/data/current_period_end'],
    ['an invoice id that is a number', withData({ invoice_id: 1 }), '/data/invoice_id'],
    ['amount_cents as a string', withData({ amount_cents: '1200' }), '/data/amount_cents'],
    ['an email that is an array', withData({ email: ['billing@example.test'] }), '/data/email']
  ]
  for (const [label, event, path] of cases) {
    expectInvalid(tt, await deliver(app, event), path, label)
    const id = String(event.id)
    tt.same(await eventRows(id), [], `${label}: nothing recorded`)
    tt.same(await jobRows(id), [], `${label}: nothing enqueued`)
  }
  tt.same(await eventRows(String(numericId)), [], 'the numeric id was not stored as a string either')
})

t.test('unknown fields from the provider are accepted and kept', async tt => {
  const event = paymentEvent({
    data: { tenant_id: randomUUID(), coupon: { code: 'SPRING' }, seats: 12 },
    livemode: false,
    api_version: '2030-01-01'
  })
  const response = await deliver(app, event)
  tt.equal(response.statusCode, 200)
  const [row] = await eventRows(event.id as string)
  tt.match(row?.payload, { livemode: false, api_version: '2030-01-01', data: { coupon: { code: 'SPRING' }, seats: 12 } })
})

t.test('an unknown type or tenant is acknowledged and recorded (the job marks it ignored)', async tt => {
  const event = paymentEvent({ type: 'customer.created', data: { tenant_id: randomUUID() } })
  tt.equal((await deliver(app, event)).statusCode, 200)
  tt.match(await eventRows(event.id as string), [{ type: 'customer.created', status: 'pending' }])
  tt.equal((await jobRows(event.id as string)).length, 1)
})

t.test('a duplicate delivery is acknowledged and records nothing more', async tt => {
  const event = paymentEvent({ data: { tenant_id: randomUUID() } })
  const first = await deliver(app, event, { requestId: 'req-first' })
  const again = await deliver(app, { ...event, data: { ...(event.data as object), plan: 'changed-on-replay' } }, { requestId: 'req-again' })
  tt.equal(first.statusCode, 200)
  tt.equal(again.statusCode, 200)
  tt.same(again.json(), { received: true })
  const rows = await eventRows(event.id as string)
  tt.equal(rows.length, 1)
  tt.match(rows[0]?.payload, { data: { plan: 'pro' } }, 'the first delivery is the one kept')
  tt.match(await jobRows(event.id as string), [{ request_id: 'req-first' }], 'one job, from the first delivery')
})

t.test('50 concurrent deliveries of one event make one row and one job', async tt => {
  const event = paymentEvent({ data: { tenant_id: randomUUID() } })
  const responses = await Promise.all(Array.from({ length: 50 }, () => deliver(app, event)))
  tt.same([...new Set(responses.map(r => r.statusCode))], [200], 'every delivery is acknowledged')
  tt.equal((await eventRows(event.id as string)).length, 1)
  tt.equal((await jobRows(event.id as string)).length, 1)
})

t.test('only application/json is taken; other routes keep the default JSON parser', async tt => {
  const event = paymentEvent({ data: { tenant_id: randomUUID() } })
  const raw = JSON.stringify(event)
  const asText = await app.inject({
    method: 'POST', url: '/v1/webhooks/payments', payload: raw, headers: { 'content-type': 'text/plain', 'payments-signature': signatureHeader(raw) }
  })
  expectProblem(tt, asText, 415, 'unsupported_media_type')
  const charset = await app.inject({
    method: 'POST', url: '/v1/webhooks/payments', payload: raw, headers: { 'content-type': 'application/json; charset=utf-8', 'payments-signature': signatureHeader(raw) }
  })
  tt.equal(charset.statusCode, 200, 'a charset parameter is fine')

  const login = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'nobody@example.test', password: 'wrong password 123' } })
  expectProblem(tt, login, 401, 'unauthenticated', 'a JSON body elsewhere is parsed as usual')
  const broken = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: '{"email":', headers: { 'content-type': 'application/json' } })
  expectProblem(tt, broken, 400, 'malformed_body', 'bad JSON elsewhere is still malformed_body')
})

t.test('a signed body of another type, a +json type or another charset is 415 and records nothing', async tt => {
  const event = paymentEvent({ data: { tenant_id: randomUUID() } })
  const raw = JSON.stringify(event)
  for (const type of ['text/plain; charset=utf-8', 'application/merge-patch+json', 'application/json; charset=iso-8859-1']) {
    const response = await app.inject({
      method: 'POST', url: '/v1/webhooks/payments', payload: raw, headers: { 'content-type': type, 'payments-signature': signatureHeader(raw) }
    })
    expectProblem(tt, response, 415, 'unsupported_media_type', type)
  }
  const upper = await app.inject({
    method: 'POST', url: '/v1/webhooks/payments', payload: raw, headers: { 'content-type': 'Application/JSON; Charset=UTF-8', 'payments-signature': signatureHeader(raw) }
  })
  tt.equal(upper.statusCode, 200, 'the media type and charset in any case')
  tt.equal((await eventRows(event.id as string)).length, 1, 'the event is recorded once, from the one accepted delivery')
})
