import { createHash } from 'node:crypto'
import type { OutgoingMail } from '../../platform/mail-transport.ts'

/**
 * The email a user gets when the deletion they asked for could not be done: between the request
 * (answered 202) and the job, they became the last owner of tenants that have other members.
 * The Message-ID is the same for every attempt at one deletion job, so a receiver can drop a copy.
 */
export function deletionBlockedMail (to: string, slugs: readonly string[], jobId: string, domain: string): OutgoingMail {
  const digest = createHash('sha256').update(jobId).digest('hex').slice(0, 40)
  return {
    to,
    subject: 'Your account was not deleted',
    text: 'You asked us to delete your account. We have not done it: since you asked, you have become the last owner of ' +
      `${slugs.join(', ')}, which ${slugs.length === 1 ? 'has' : 'have'} other members.\n\n` +
      'Make another member an owner there, or remove the other members, then ask for the deletion again. ' +
      'Your account and its data are as they were.\n',
    messageId: `<deletion-blocked.${digest}@${domain}>`
  }
}
