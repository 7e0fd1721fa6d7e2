import { Server } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import type { Logger } from './logger.ts'
import type { Config } from '../config.ts'

export interface Closable { close: () => Promise<void> }

/** Time for connections accepted just before the listener closed to have their request read. */
const ACCEPTED_SETTLE_MS = 500

/**
 * Stops accepting connections, and only that. Node's http `server.close()` (which app.close()
 * calls) also destroys every connection without a request in progress, including one a proxy has
 * just opened whose request is not read yet: that request would meet a reset (nginx answers 502
 * for a POST it cannot retry). Closing the listener first and waiting a moment lets such requests
 * be read; app.close() then finds them in progress and lets them finish.
 */
async function stopAccepting (app: FastifyInstance): Promise<void> {
  if (!app.server.listening) return
  Server.prototype.close.call(app.server)
  await sleep(ACCEPTED_SETTLE_MS)
}

/** What a signal stops: handed over piece by piece as start-up makes them. */
export interface Shutdown {
  /** aborted on the first signal: start-up work in progress (migrate) stops, and no more starts */
  readonly signal: AbortSignal
  /** the API server, closed with readiness off first */
  serve: (app: FastifyInstance) => void
  /** anything else that runs until shutdown (the worker) */
  add: (closable: Closable) => void
  /** runs once everything else has closed: exports the last spans (telemetry) */
  finally: (flush: () => Promise<void>) => void
}

/**
 * Installed before any start-up work, so a signal during migrate or listen stops the process
 * too (as PID 1, node ignores a SIGTERM nobody listens for). On SIGTERM/SIGINT: /readyz turns 503
 * at once, SHUTDOWN_DELAY_MS later the server stops accepting, in-flight requests (and running
 * jobs) finish, connections close, exit 0. Past SHUTDOWN_DELAY_MS + SHUTDOWN_GRACE_MS the process
 * exits 1 regardless. What start-up had not handed over yet ends with the process.
 */
export function installGracefulShutdown (
  config: Pick<Config, 'SHUTDOWN_DELAY_MS' | 'SHUTDOWN_GRACE_MS'>,
  log: Logger
): Shutdown {
  const stop = new AbortController()
  let app: FastifyInstance | undefined
  const others: Closable[] = []
  const flushes: Array<() => Promise<void>> = []
  closeWithGrace({ delay: config.SHUTDOWN_DELAY_MS + config.SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    stop.abort()
    if (err) log.error({ err }, 'shutting down after an unexpected error')
    else log.info({ signal }, 'shutting down: readiness off')
    if (app) {
      app.lifecycle.draining = true
      if (config.SHUTDOWN_DELAY_MS > 0) await sleep(config.SHUTDOWN_DELAY_MS)
      log.info('shutting down: no new connections, finishing in-flight requests')
      await stopAccepting(app)
    }
    await Promise.all([app?.close(), ...others.map(o => o.close())])
    for (const flush of flushes) await flush()
    log.info('shut down cleanly')
  })
  return {
    signal: stop.signal,
    serve: server => { app = server },
    add: closable => { others.push(closable) },
    finally: flush => { flushes.push(flush) }
  }
}
