import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'

const CLOSE_TIMEOUT_MS = 5_000

/**
 * What a bench process tells its harness (bench/server-process.ts) over the IPC channel once it is
 * ready: a server the loopback port it accepts connections on, a worker only that it runs.
 */
export type ReadyMessage = { type: 'listening', port: number } | { type: 'running' }

function ipcSend (): (message: ReadyMessage) => void {
  const send = process.send?.bind(process)
  if (send === undefined) throw new Error('a bench process is started by bench/run.ts, which gives it an IPC channel')
  return message => { send(message) }
}

/** Closes on SIGTERM or SIGINT, and when the harness goes away (the channel closes): a bench process never outlives its bench. */
function closeWhenTold (close: () => Promise<void>): void {
  let closing = false
  const onSignal = (): void => {
    if (closing) return
    closing = true
    setTimeout(() => process.exit(1), CLOSE_TIMEOUT_MS).unref()
    close().then(() => process.exit(0), () => process.exit(1))
  }
  process.once('SIGTERM', onSignal)
  process.once('SIGINT', onSignal)
  process.once('disconnect', onSignal)
}

/** Listens on a free loopback port and tells the harness which one. */
export async function serveForBench (app: FastifyInstance): Promise<void> {
  const send = ipcSend()
  closeWhenTold(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  send({ type: 'listening', port })
}

/** A process that serves no HTTP (Atrium's worker): tells the harness it runs, and closes as a server does. */
export function runForBench (close: () => Promise<void>): void {
  const send = ipcSend()
  closeWhenTold(close)
  send({ type: 'running' })
}
