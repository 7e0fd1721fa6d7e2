import { setTimeout as sleep } from 'node:timers/promises'
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import type { Logger } from './logger.ts'
import type { Config } from '../config.ts'

export interface Closable { close: () => Promise<void> }

/**
 * On SIGTERM/SIGINT: /readyz turns 503 at once, SHUTDOWN_DELAY_MS later the server stops
 * accepting, in-flight requests (and running jobs) finish, connections close, exit 0.
 * Past SHUTDOWN_DELAY_MS + SHUTDOWN_GRACE_MS the process exits 1 regardless.
 */
export function installGracefulShutdown (
  config: Pick<Config, 'SHUTDOWN_DELAY_MS' | 'SHUTDOWN_GRACE_MS'>,
  log: Logger,
  app: FastifyInstance | undefined,
  others: Closable[] = [],
  /** after everything has closed: exports the last spans (telemetry) */
  flush?: () => Promise<void>
): void {
  closeWithGrace({ delay: config.SHUTDOWN_DELAY_MS + config.SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an unexpected error')
    else log.info({ signal }, 'shutting down: readiness off')
    if (app) {
      app.lifecycle.draining = true
      if (config.SHUTDOWN_DELAY_MS > 0) await sleep(config.SHUTDOWN_DELAY_MS)
      log.info('shutting down: no new connections, finishing in-flight requests')
    }
    await Promise.all([app?.close(), ...others.map(o => o.close())])
    await flush?.()
    log.info('shut down cleanly')
  })
}
