import { createHmac, randomBytes } from 'node:crypto'
import type autocannon from 'autocannon'
import { fixtures } from './fixtures.ts'
import type { BenchContext } from './types.ts'

const PLANS = ['starter', 'team', 'business'] as const
const TYPES = ['subscription.activated', 'subscription.updated', 'invoice.paid'] as const

let delivered = 0

/**
 * POST /v1/webhooks/payments as the provider sends it: a unique event id each time (so every
 * request records a new event and its job, never the cheap duplicate path), signed over the exact
 * body with the bench's webhook secret and the current time. One request per seeded tenant.
 */
export function signedWebhookDeliveries (context: BenchContext): autocannon.Request[] {
  const secret = context.secrets.paymentsWebhook
  const run = randomBytes(4).toString('hex')
  return fixtures().tenants.map((tenant, index) => ({
    method: 'POST',
    path: '/v1/webhooks/payments',
    setupRequest: request => {
      delivered += 1
      const created = Math.floor(Date.now() / 1000)
      const body = JSON.stringify({
        id: `evt_bench_${run}_${process.pid}_${delivered}`,
        type: TYPES[delivered % TYPES.length],
        created,
        data: {
          tenant_id: tenant.id,
          subscription_id: `sub_bench_${index}`,
          plan: PLANS[index % PLANS.length],
          status: 'active',
          current_period_end: created + 30 * 86_400,
          invoice_id: `in_bench_${run}_${delivered}`,
          amount_cents: 4_900
        }
      })
      const signature = createHmac('sha256', secret).update(`${created}.${body}`).digest('hex')
      return {
        ...request,
        headers: { 'content-type': 'application/json', 'payments-signature': `t=${created},v1=${signature}` },
        body
      }
    }
  }))
}
