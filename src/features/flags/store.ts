import { BucketCache, FlagSnapshot, type FlagCaller, type FlagDefinition } from './evaluate.ts'

/**
 * The flags of this process, in memory: evaluation reads the current snapshot and never waits.
 * `refresh()` loads every flag and swaps the snapshot in. Refreshes never overlap, and a refresh
 * asked for while one runs waits for it and then loads again, so it always sees every change
 * committed before it was asked for (the loading query may have started before that commit).
 */
export class FlagStore {
  private snapshot: FlagSnapshot
  private readonly buckets = new BucketCache()
  private running: Promise<void> | null = null
  private queued: Promise<void> | null = null

  constructor (private readonly load: () => Promise<FlagDefinition[]>) {
    this.snapshot = new FlagSnapshot([], this.buckets)
  }

  isEnabled (key: string, caller: FlagCaller): boolean {
    return this.snapshot.isEnabled(key, caller)
  }

  all (caller: FlagCaller): Record<string, boolean> {
    return this.snapshot.all(caller)
  }

  refresh (): Promise<void> {
    if (this.running === null) {
      this.running = this.loadNow().finally(() => { this.running = null })
      return this.running
    }
    this.queued ??= this.running.catch(() => {}).then(() => {
      this.queued = null
      return this.refresh()
    })
    return this.queued
  }

  /** Settles once no refresh is running or queued (for shutdown). */
  async idle (): Promise<void> {
    while (this.running !== null || this.queued !== null) {
      await (this.queued ?? this.running)?.catch(() => {})
    }
  }

  private async loadNow (): Promise<void> {
    this.snapshot = new FlagSnapshot(await this.load(), this.buckets)
  }
}
