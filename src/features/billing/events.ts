/** The event types the billing processor acts on; any other type is recorded as ignored. */
export const paymentEventTypes = [
  'subscription.activated',
  'subscription.updated',
  'subscription.canceled',
  'invoice.paid'
] as const
export type PaymentEventType = typeof paymentEventTypes[number]

export function isPaymentEventType (type: string): type is PaymentEventType {
  return (paymentEventTypes as readonly string[]).includes(type)
}

/** Job names of billing (src/features/billing/jobs.ts); the service enqueues them. */
export const billingJobNames = {
  /** applies one recorded event to the tenant's subscription; queue `billing` */
  processEvent: 'billing.process-event',
  /** sends the receipt of one `invoice.paid` event; queue `mail` */
  sendReceipt: 'billing.send-receipt'
} as const
