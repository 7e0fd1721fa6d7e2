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
