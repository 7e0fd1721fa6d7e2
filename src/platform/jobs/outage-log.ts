import type { Logger } from '../logger.ts'

/** Logs the first error of an outage and the recovery, not every reconnect attempt in between. */
export class OutageLog {
  private down = false

  constructor (private readonly log: Logger, private readonly what: string) {}

  failed (error: unknown): void {
    if (this.down) return
    this.down = true
    this.log.warn({ err: error }, `${this.what}: unavailable`)
  }

  recovered (): void {
    if (!this.down) return
    this.down = false
    this.log.info(`${this.what}: available again`)
  }
}
