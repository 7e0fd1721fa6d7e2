import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import type { Teardown } from './app.ts'

export interface ReceivedMail {
  from: string | null
  /** envelope recipients */
  to: string[]
  /** header names lower-cased, continuation lines unfolded */
  headers: Record<string, string>
  body: string
}

export interface TestSmtpServer {
  /** `smtp://127.0.0.1:<port>`, for SMTP_URL */
  url: string
  /** every message accepted, in order */
  messages: ReceivedMail[]
  close: () => Promise<void>
}

const MAX_MESSAGE_BYTES = 1_048_576

function parseMessage (raw: string): Pick<ReceivedMail, 'headers' | 'body'> {
  const split = raw.indexOf('\r\n\r\n')
  const head = split === -1 ? raw : raw.slice(0, split)
  const body = split === -1 ? '' : raw.slice(split + 4)
  const headers: Record<string, string> = {}
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { headers, body }
}

/**
 * A real SMTP server on a free loopback port that accepts every message (no TLS, no auth) and
 * records it; closed when the test ends.
 */
export async function startSmtpServer (t: Teardown): Promise<TestSmtpServer> {
  const messages: ReceivedMail[] = []
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    size: MAX_MESSAGE_BYTES,
    onData (stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('error', callback)
      stream.on('end', () => {
        const mailFrom = session.envelope.mailFrom
        messages.push({
          from: mailFrom === false ? null : mailFrom.address,
          to: session.envelope.rcptTo.map(address => address.address),
          ...parseMessage(Buffer.concat(chunks).toString('utf8'))
        })
        callback()
      })
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  server.on('error', () => {})
  const { port } = server.server.address() as AddressInfo
  let closed: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closed ??= new Promise<void>(resolve => server.close(() => resolve()))
    await closed
  }
  t.teardown(close)
  return { url: `smtp://127.0.0.1:${port}`, messages, close }
}
