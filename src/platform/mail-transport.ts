import { createTransport } from 'nodemailer'
import type { Config } from '../config.ts'

/** One email as the domain writes it; the sender is the configured MAIL_FROM. */
export interface OutgoingMail {
  to: string
  subject: string
  text: string
  /** `<unique@domain>`: stable for one logical message, so a receiver can drop a duplicate */
  messageId: string
}

export interface Mailer {
  /** the domain of the sender's address, for Message-IDs */
  readonly domain: string
  /** resolves once the SMTP server accepted the message; rejects otherwise */
  send: (mail: OutgoingMail) => Promise<void>
  close: () => void
}

export type MailConfig = Pick<Config, 'SMTP_URL' | 'MAIL_FROM'>

/** Nodemailer waits up to minutes by default; a job that sends inside a transaction must not. */
const SMTP_TIMEOUT_MS = 10_000

/**
 * Sends over SMTP as configured (`smtp://` or `smtps://`, credentials in the URL). One connection
 * per message, no pool: receipts are rare and a pooled connection would outlive the worker's
 * shutdown. Every wait (connect, greeting, any reply) is bounded.
 */
export function createMailer (config: MailConfig, timeoutMs = SMTP_TIMEOUT_MS): Mailer {
  const transport = createTransport({
    url: config.SMTP_URL,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs
  }, { from: config.MAIL_FROM })
  return {
    domain: senderDomain(config.MAIL_FROM),
    async send (mail) {
      const info = await transport.sendMail({ to: mail.to, subject: mail.subject, text: mail.text, messageId: mail.messageId })
      if (info.rejected.length > 0) throw new Error(`the SMTP server rejected ${info.rejected.length} recipient(s)`)
    },
    close () {
      transport.close()
    }
  }
}

/** The domain of MAIL_FROM's address (`Atrium <no-reply@atrium.example>` → `atrium.example`), for Message-IDs. */
export function senderDomain (from: string): string {
  const match = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from)
  return match?.[1] ?? 'atrium.localhost'
}
