import { jobName, type QueueOf } from '../../platform/jobs/job-name.ts'

/** Applies one recorded event to the tenant's subscription (jobs.ts); enqueued by payment_event_record with the event. */
export const PROCESS_PAYMENT_EVENT_JOB = jobName<{ event_id: string }, 'billing'>('billing.process-event')
/** Its queue as a value: payment_event_record writes the job's outbox row itself, not through enqueue(). */
export const PROCESS_PAYMENT_EVENT_QUEUE = 'billing' satisfies QueueOf<typeof PROCESS_PAYMENT_EVENT_JOB>

/** Sends the receipt of one `invoice.paid` event (jobs.ts); enqueued by the event's processing. */
export const SEND_RECEIPT_JOB = jobName<{ event_id: string, tenant_id: string }, 'mail'>('billing.send-receipt')
