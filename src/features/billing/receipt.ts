import { createHash } from 'node:crypto'
import type { OutgoingMail } from '../../platform/mail-transport.ts'

export interface ReceiptFacts {
  tenantId: string
  tenantName: string
  invoiceId: string
  plan: string
  amountCents: number | null
  to: string
}

/**
 * The same Message-ID for every attempt at one invoice's receipt: if a send succeeded and the
 * commit after it failed, the retry's copy carries the id of the first and a receiver can drop it.
 */
export function receiptMessageId (tenantId: string, invoiceId: string, domain: string): string {
  const digest = createHash('sha256').update(`${tenantId}\n${invoiceId}`).digest('hex').slice(0, 40)
  return `<receipt.${digest}@${domain}>`
}

export function receiptMail (facts: ReceiptFacts, domain: string): OutgoingMail {
  const amount = facts.amountCents === null ? '' : `Amount paid: ${(facts.amountCents / 100).toFixed(2)}\n`
  return {
    to: facts.to,
    subject: `Your receipt for invoice ${facts.invoiceId}`,
    text: `Thank you for your payment.\n\nOrganization: ${facts.tenantName}\nInvoice: ${facts.invoiceId}\n` +
      `Plan: ${facts.plan}\n${amount}`,
    messageId: receiptMessageId(facts.tenantId, facts.invoiceId, domain)
  }
}
