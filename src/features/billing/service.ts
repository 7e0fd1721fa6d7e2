import { currentContext } from '../../context.ts'
import type { Database, TransactionSql } from '../../platform/db/database.ts'
import { notFound } from '../../platform/errors.ts'
import { isPaymentEventType } from './events.ts'
import { PROCESS_PAYMENT_EVENT_JOB, PROCESS_PAYMENT_EVENT_QUEUE, SEND_RECEIPT_JOB } from './job-names.ts'
import { receiptMail } from './receipt.ts'
import { enqueue, wakeRelay } from '../../platform/jobs/outbox.ts'
import type { Mailer } from '../../platform/mail-transport.ts'
import type { PaymentEvent, SubscriptionView } from './schemas.ts'
import { diff, type FieldChanges, recordAudit } from '../audit/index.ts'

type SubscriptionStatus = SubscriptionView['status']

interface EventRow {
  id: string
  type: string
  created: Date
  tenant_id: string | null
  payload: PaymentEvent
  status: 'pending' | 'processed' | 'ignored'
}

/** The fields of a subscription an event sets, as the audit log records them. */
type SubscriptionState = {
  subscription_id: string | null
  plan: string | null
  status: SubscriptionStatus | null
  current_period_end: Date | null
}

type SubscriptionRow = SubscriptionState & { last_event_created: Date }

/**
 * What processing did with an event: `applied` changed the subscription; `stale` was older than
 * (or as old as) the state already applied and changed nothing; `ignored` names an unknown tenant
 * or type; `done_before` and `missing` mean another run got there first, or there is no such event.
 */
export type ProcessOutcome = 'applied' | 'stale' | 'ignored' | 'done_before' | 'missing'
export type ReceiptOutcome = 'sent' | 'sent_before' | 'nothing_to_send'

const unixToDate = (seconds: number | undefined): Date | null => seconds === undefined ? null : new Date(seconds * 1000)

/**
 * Billing: payment provider events in, one subscription per tenant out, receipts by email.
 * The webhook records an event and its job in one statement; the jobs that follow are idempotent
 * (a locked state check, a guard row), so a duplicate delivery, a retry or a replay changes nothing.
 */
export class BillingService {
  constructor (private readonly db: Database) {}

  /**
   * Records a verified event and, only when its id is new, the outbox row of its processing job,
   * atomically (migrations/0007_billing.sql, payment_event_record). True when the event was new.
   */
  async recordEvent (event: PaymentEvent): Promise<boolean> {
    const requestId = currentContext()?.requestId ?? null
    // one statement, hence db.read: if the deadline cancels it after it committed, the provider's
    // retry is a duplicate and is acknowledged, so nothing is lost or doubled
    const [row] = await this.db.read('payment_event_record', null, (sql, scope) => sql<Array<{ recorded: boolean }>>`
      select payment_event_record(${event.id}, ${event.type}, ${event.created}, ${event.data.tenant_id},
        ${sql.json(event as unknown as Parameters<typeof sql.json>[0])}, ${PROCESS_PAYMENT_EVENT_QUEUE}, ${PROCESS_PAYMENT_EVENT_JOB},
        ${requestId}, ${scope.tag}) as recorded`)
    const recorded = row?.recorded === true
    if (recorded) wakeRelay(this.db.sql)
    return recorded
  }

  async subscription (tenantId: string): Promise<SubscriptionView> {
    const [row] = await this.db.read('subscription', tenantId, sql =>
      sql<Array<{ plan: string, status: SubscriptionStatus, current_period_end: Date | null, updated_at: Date }>>`
        select plan, status, current_period_end, updated_at from subscriptions where tenant_id = ${tenantId}`)
    if (row === undefined) throw notFound('this tenant has no subscription')
    const view: SubscriptionView = { plan: row.plan, status: row.status, updated_at: row.updated_at }
    if (row.current_period_end !== null) view.current_period_end = row.current_period_end
    return view
  }

  /**
   * Applies one recorded event, once: in one transaction it locks the event and acts only while
   * it is pending, then marks it processed (or ignored). A subscription moves only to a strictly
   * newer `created`; of two events created in the same second the first processed wins.
   * `invoice.paid` also enqueues its receipt (sendReceipt) in the same transaction, stale or not:
   * the payment happened whatever order its events arrive in.
   */
  async processEvent (eventId: string): Promise<ProcessOutcome> {
    const tenantHint = await this.tenantOf(eventId)
    return this.db.transaction(tenantHint, async tx => {
      const [event] = await tx<EventRow[]>`
        select id, type, created, tenant_id, payload, status from payment_events where id = ${eventId} for update`
      if (event === undefined) return 'missing'
      if (event.status !== 'pending') return 'done_before'
      const tenantId = event.tenant_id
      if (tenantId === null || !isPaymentEventType(event.type) || !await this.tenantExists(tx, tenantId)) {
        await this.mark(tx, eventId, 'ignored')
        return 'ignored'
      }
      const applied = await this.applyToSubscription(tx, tenantId, event)
      if (event.type === 'invoice.paid' && event.payload.data.invoice_id !== undefined) {
        await enqueue(tx, {
          queue: 'mail',
          name: SEND_RECEIPT_JOB,
          payload: { event_id: eventId, tenant_id: tenantId },
          tenantId
        })
      }
      await this.mark(tx, eventId, 'processed')
      return applied ? 'applied' : 'stale'
    })
  }

  /**
   * Sends the receipt of a processed `invoice.paid` event, exactly once per invoice: the receipts
   * row is the guard, claimed in the transaction that sends. A failed send rolls the claim back
   * for the retry; a commit that fails after a send could repeat it once, under the same Message-ID.
   * The recipient is the event's `data.email`, else the tenant's first owner.
   */
  async sendReceipt (tenantId: string, eventId: string, mailer: Mailer): Promise<ReceiptOutcome> {
    return this.db.transaction(tenantId, async tx => {
      const [event] = await tx<Array<Pick<EventRow, 'type' | 'payload'>>>`
        select type, payload from payment_events
        where id = ${eventId} and tenant_id = ${tenantId} and status = 'processed'`
      const data = event?.payload.data
      if (event?.type !== 'invoice.paid' || data?.invoice_id === undefined) return 'nothing_to_send'
      const [tenant] = await tx<Array<{ name: string, owner_email: string | null }>>`
        select t.name, (
          select u.email from memberships m join users u on u.id = m.user_id
          where m.tenant_id = t.id and m.role = 'owner' and u.deleted_at is null
          order by m.created_at, u.id limit 1
        ) as owner_email
        from tenants t where t.id = ${tenantId}`
      const to = data.email ?? tenant?.owner_email ?? null
      if (tenant === undefined || to === null) return 'nothing_to_send'
      const mail = receiptMail({
        tenantId,
        tenantName: tenant.name,
        invoiceId: data.invoice_id,
        plan: data.plan,
        amountCents: data.amount_cents ?? null,
        to
      }, mailer.domain)
      const claimed = await tx`
        insert into receipts (tenant_id, invoice_id, event_id, email, message_id, amount_cents)
        values (${tenantId}, ${data.invoice_id}, ${eventId}, ${to}, ${mail.messageId}, ${data.amount_cents ?? null})
        on conflict (tenant_id, invoice_id) do nothing
        returning invoice_id`
      if (claimed.length === 0) return 'sent_before'
      await mailer.send(mail)
      return 'sent'
    })
  }

  /** The tenant the event names, to scope the processing transaction (row-level security). */
  private async tenantOf (eventId: string): Promise<string | null> {
    const [row] = await this.db.read('payment_event_tenant', null, sql => sql<Array<{ tenant_id: string | null }>>`
      select tenant_id from payment_events where id = ${eventId}`)
    return row?.tenant_id ?? null
  }

  private async tenantExists (tx: TransactionSql, tenantId: string): Promise<boolean> {
    const [row] = await tx<Array<{ found: boolean }>>`select exists (select 1 from tenants where id = ${tenantId}) as found`
    return row?.found === true
  }

  private async mark (tx: TransactionSql, eventId: string, status: 'processed' | 'ignored'): Promise<void> {
    await tx`update payment_events set status = ${status}, processed_at = now() where id = ${eventId}`
  }

  /** Upserts the tenant's subscription from the event when the event is newer; audits what changed. True when applied. */
  private async applyToSubscription (tx: TransactionSql, tenantId: string, event: EventRow): Promise<boolean> {
    const data = event.payload.data
    const next: SubscriptionState = {
      subscription_id: data.subscription_id,
      plan: data.plan,
      status: data.status,
      current_period_end: unixToDate(data.current_period_end)
    }
    // the first event of a tenant creates the row; a concurrent creator makes this wait, then do nothing
    const created = await tx`
      insert into subscriptions (tenant_id, subscription_id, plan, status, current_period_end, last_event_created, last_event_id)
      values (${tenantId}, ${data.subscription_id}, ${data.plan}, ${data.status}, ${next.current_period_end}, ${event.created}, ${event.id})
      on conflict (tenant_id) do nothing
      returning tenant_id`
    let changes: FieldChanges
    if (created.length === 1) {
      changes = diff<SubscriptionState>({ subscription_id: null, plan: null, status: null, current_period_end: null }, next)
    } else {
      const [current] = await tx<SubscriptionRow[]>`
        select subscription_id, plan, status, current_period_end, last_event_created
        from subscriptions where tenant_id = ${tenantId} for update`
      if (current === undefined || event.created.getTime() <= current.last_event_created.getTime()) return false
      await tx`update subscriptions set
          subscription_id = ${data.subscription_id}, plan = ${data.plan}, status = ${data.status},
          current_period_end = ${next.current_period_end}, last_event_created = ${event.created}, last_event_id = ${event.id},
          updated_at = now()
        where tenant_id = ${tenantId}`
      const { last_event_created: _lastEventCreated, ...before } = current
      changes = diff<SubscriptionState>(before, next)
    }
    if (Object.keys(changes).length > 0) {
      await recordAudit(tx, {
        tenantId,
        action: 'subscription_changed',
        objectType: 'subscription',
        objectId: data.subscription_id,
        changes,
        actorId: null
      })
    }
    return true
  }
}
