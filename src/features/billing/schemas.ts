import { Type, type Static } from '@sinclair/typebox'
import { EMAIL_PATTERN, FiniteInteger, Timestamp, Uuid } from '../../schemas/common.ts'

const UnixSeconds = FiniteInteger({ minimum: 0, maximum: 253_402_300_799, description: 'unix seconds' })

export const SubscriptionStatus = Type.Union([Type.Literal('active'), Type.Literal('past_due'), Type.Literal('canceled')])

/**
 * A payment provider's event (API.md Billing). Unknown fields are allowed at every level: the
 * provider adds fields without notice. `type` is any string: an unknown type is acknowledged and
 * recorded as ignored, not refused.
 */
export const PaymentEventBody = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 255 }),
  type: Type.String({ minLength: 1, maxLength: 100 }),
  created: UnixSeconds,
  data: Type.Object({
    tenant_id: Uuid,
    subscription_id: Type.String({ minLength: 1, maxLength: 255 }),
    plan: Type.String({ minLength: 1, maxLength: 100 }),
    status: SubscriptionStatus,
    current_period_end: Type.Optional(UnixSeconds),
    invoice_id: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    amount_cents: Type.Optional(FiniteInteger({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    email: Type.Optional(Type.String({ minLength: 3, maxLength: 254, pattern: EMAIL_PATTERN }))
  }, { additionalProperties: true })
}, { additionalProperties: true })
export type PaymentEvent = Static<typeof PaymentEventBody>

export const PaymentSignatureHeaders = Type.Object({
  'payments-signature': Type.String({ description: 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">' })
})

export const WebhookAck = Type.Object({ received: Type.Literal(true) })

export const Subscription = Type.Object({
  plan: Type.String(),
  status: SubscriptionStatus,
  current_period_end: Type.Optional(Timestamp),
  updated_at: Timestamp
})
export type SubscriptionView = Static<typeof Subscription>
