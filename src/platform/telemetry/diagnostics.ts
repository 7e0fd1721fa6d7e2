import type { DiagLogger } from '@opentelemetry/api'
import type { ServiceLog } from '../logger.ts'

const QUIET_MS = 60_000

/**
 * The SDK's own complaints (an export the collector refused or never answered, spans dropped from
 * a full queue) as warnings in Atrium's log, at most one a minute with the number left out since:
 * a collector that is down must show, without a line per batch. Below warn, nothing.
 */
export function diagnosticsLog (log: Pick<ServiceLog, 'warn'>, now: () => number = Date.now): DiagLogger {
  let quietUntil = 0
  let suppressed = 0
  const warn = (message: string, ...args: unknown[]): void => {
    const at = now()
    if (at < quietUntil) {
      suppressed++
      return
    }
    quietUntil = at + QUIET_MS
    const detail = args.map(arg => arg instanceof Error ? arg.message : String(arg)).join(' ')
    log.warn({ component: 'opentelemetry', ...(suppressed > 0 ? { suppressed } : {}) },
      `tracing: ${message}${detail === '' ? '' : ` ${detail}`}`)
    suppressed = 0
  }
  const ignore = (): void => {}
  return { error: warn, warn, info: ignore, debug: ignore, verbose: ignore }
}
