import type { LogFn } from 'pino'

/** What an outage log writes: the lines are the caller's, the rhythm (once down, once up) is this class's. */
export interface OutageLines {
  /** warn, at the first failure of an outage, with the error as `err` */
  failed: string
  /** info, at the first success after it */
  recovered: string
  /** debug, at every further failure, with the error; none when left out */
  stillFailing?: string
  /** `message`: the error's message alone (`err: { message }`, no stack); default: the whole error */
  err?: 'whole' | 'message'
  /** the recovery line carries `after_ms`, how long the outage lasted */
  timed?: boolean
}

/** The app's logger (`app.log`) and a pino Logger both fit. */
export interface OutageLogger {
  warn: LogFn
  info: LogFn
  debug: LogFn
}

/**
 * Logs the first failure of an outage and the recovery, not every failed attempt in between: the
 * one definition of that rhythm for connections, the relay, queue depths and invalidation.
 */
export class OutageLog {
  /** epoch ms of the outage's first failure; undefined while up */
  private since: number | undefined

  constructor (private readonly log: OutageLogger, private readonly lines: OutageLines) {}

  get down (): boolean {
    return this.since !== undefined
  }

  /** An attempt failed; `fields` go on the line after `err`. */
  failed (error: unknown, fields?: object): void {
    if (this.since === undefined) {
      this.since = Date.now()
      this.log.warn({ err: this.errorField(error), ...fields }, this.lines.failed)
    } else if (this.lines.stillFailing !== undefined) {
      this.log.debug({ err: this.errorField(error), ...fields }, this.lines.stillFailing)
    }
  }

  /** An attempt succeeded. */
  recovered (): void {
    if (this.since === undefined) return
    const afterMs = Date.now() - this.since
    this.since = undefined
    if (this.lines.timed === true) this.log.info({ after_ms: afterMs }, this.lines.recovered)
    else this.log.info(this.lines.recovered)
  }

  private errorField (error: unknown): unknown {
    return this.lines.err === 'message' ? { message: (error as Error).message } : error
  }
}
