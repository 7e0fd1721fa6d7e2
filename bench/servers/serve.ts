import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'

const CLOSE_TIMEOUT_MS = 5_000

/** Message a bench server sends its harness once it accepts connections. */
export interface ListeningMessage {
  type: 'listening'
  port: number
}

/**
 * Listens on a free loopback port and tells the harness (bench/run.ts) which one over the IPC
 * channel. Closes on SIGTERM or SIGINT, and when the harness goes away (the channel closes), so a
 * bench server never outlives its bench.
 */
export async function serveForBench (app: FastifyInstance): Promise<void> {
  const send = process.send?.bind(process)
  if (send === undefined) throw new Error('a bench server is started by bench/run.ts, which gives it an IPC channel')

  let closing = false
  const close = (): void => {
    if (closing) return
    closing = true
    setTimeout(() => process.exit(1), CLOSE_TIMEOUT_MS).unref()
    app.close().then(() => process.exit(0), () => process.exit(1))
  }
  process.once('SIGTERM', close)
  process.once('SIGINT', close)
  process.once('disconnect', close)

  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const message: ListeningMessage = { type: 'listening', port }
  send(message)
}
