import { createHmac, randomBytes } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'

/** The secrets the billing tests configure: the provider signs with either during a rotation. */
export const WEBHOOK_SECRET = 'test-webhook-secret-current-0001'
export const ROTATED_WEBHOOK_SECRET = 'test-webhook-secret-next-0002'
export const webhookEnv = { PAYMENTS_WEBHOOK_SECRETS: `${WEBHOOK_SECRET},${ROTATED_WEBHOOK_SECRET}` }

export const nowSeconds = (): number => Math.floor(Date.now() / 1000)

/**
 * `Payments-Signature` as API.md defines it, computed here from the contract (not with the app's
 * own code): `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.
 */
export function signatureHeader (rawBody: string, secret = WEBHOOK_SECRET, timestamp = nowSeconds()): string {
  const digest = createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex')
  return `t=${timestamp},v1=${digest}`
}

export interface EventData {
  tenant_id: string
  subscription_id?: string
  plan?: string
  status?: 'active' | 'past_due' | 'canceled'
  current_period_end?: number
  invoice_id?: string
  amount_cents?: number
  email?: string
  [extra: string]: unknown
}

export interface PaymentEventInput {
  id?: string
  type?: string
  created?: number
  data: EventData
  [extra: string]: unknown
}

export const uniqueEventId = (): string => `evt_${randomBytes(8).toString('hex')}`

/** A complete event body: defaults for what the test does not care about. */
export function paymentEvent (input: PaymentEventInput): Record<string, unknown> {
  const { id, type, created, data, ...extra } = input
  return {
    id: id ?? uniqueEventId(),
    type: type ?? 'subscription.activated',
    created: created ?? nowSeconds(),
    data: { subscription_id: 'sub_1', plan: 'pro', status: 'active', ...data },
    ...extra
  }
}

export interface DeliveryOptions {
  secret?: string
  timestamp?: number
  /** the header as sent; null sends none */
  header?: string | null
  requestId?: string
}

/** POSTs the event as the provider would: the exact bytes it signed. */
export async function deliver (app: FastifyInstance, event: Record<string, unknown> | string, options: DeliveryOptions = {}): Promise<LightMyRequestResponse> {
  const raw = typeof event === 'string' ? event : JSON.stringify(event)
  const header = options.header === undefined ? signatureHeader(raw, options.secret, options.timestamp) : options.header
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (header !== null) headers['payments-signature'] = header
  if (options.requestId !== undefined) headers['x-request-id'] = options.requestId
  return app.inject({ method: 'POST', url: '/v1/webhooks/payments', headers, payload: raw })
}
