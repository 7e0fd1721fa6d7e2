import type { JobRegistry } from '../../platform/jobs/registry.ts'
import type { Mailer } from '../../platform/mail-transport.ts'
import { BillingService } from './service.ts'
import { PROCESS_PAYMENT_EVENT_JOB, SEND_RECEIPT_JOB } from './job-names.ts'

export interface BillingJobDeps {
  mailer: Mailer
}

/**
 * The billing job types. Both are idempotent: processing locks the event and acts only while it
 * is pending; the receipt claims its invoice's guard row in the transaction that sends.
 */
export function registerBillingJobs (registry: JobRegistry, deps: BillingJobDeps): JobRegistry {
  return registry
    .register({
      queue: 'billing',
      name: PROCESS_PAYMENT_EVENT_JOB,
      async handler (payload, job) {
        const outcome = await new BillingService(job.db).processEvent(payload.event_id)
        job.log.info({ event_id: payload.event_id, outcome }, 'payment event processed')
      }
    })
    .register({
      queue: 'mail',
      name: SEND_RECEIPT_JOB,
      async handler (payload, job) {
        const outcome = await new BillingService(job.db).sendReceipt(payload.tenant_id, payload.event_id, deps.mailer)
        job.log.info({ event_id: payload.event_id, outcome }, 'receipt job done')
      }
    })
}
