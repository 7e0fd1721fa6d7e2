import { setTimeout as sleep } from 'node:timers/promises'
import type { Call } from '../../test/helpers/http-client.ts'

/** One request of a load, as a worker of the load sends it. */
export interface LoadRequest extends Omit<Call, 'timeoutMs'> {
  /** a label for the summary: `read`, `write`, `enqueue`, ... */
  kind: string
  /** what the test wants to find again afterwards (an article title, a job marker) */
  key?: string
}

/** What a client saw for one request. */
export interface Outcome {
  kind: string
  key?: string
  /** 0 when no HTTP answer came (connection error or client-side timeout) */
  status: number
  /** the problem code of an error answer */
  code?: string
  /** the answered body, parsed, for 2xx answers */
  body?: unknown
  error?: string
  startedAt: number
  latencyMs: number
}

export interface LoadOptions {
  baseUrl: string
  concurrency: number
  /** the next request of a worker; undefined makes the worker rest 20 ms and ask again */
  next: (worker: number) => LoadRequest | undefined
  /** a request without an answer after this is recorded as an error (status 0) */
  clientTimeoutMs: number
  /** the load stops by itself after this, whatever the test does */
  maxDurationMs: number
}

export interface RunningLoad {
  readonly outcomes: readonly Outcome[]
  /** stops sending, waits for the requests in flight (each bounded by the client timeout) */
  stop: () => Promise<Outcome[]>
}

async function send (baseUrl: string, request: LoadRequest, clientTimeoutMs: number): Promise<Outcome> {
  const startedAt = Date.now()
  const started = performance.now()
  const base = { kind: request.kind, ...(request.key === undefined ? {} : { key: request.key }), startedAt }
  try {
    const response = await fetch(`${baseUrl}${request.path}`, {
      method: request.method,
      headers: { ...(request.body === undefined ? {} : { 'content-type': 'application/json' }), ...request.headers },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      signal: AbortSignal.timeout(clientTimeoutMs)
    })
    const text = await response.text()
    const latencyMs = performance.now() - started
    const parsed = text === '' ? undefined : JSON.parse(text) as unknown
    if (response.ok) return { ...base, status: response.status, body: parsed, latencyMs }
    const code = (parsed as { code?: unknown } | undefined)?.code
    return { ...base, status: response.status, ...(typeof code === 'string' ? { code } : {}), latencyMs }
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause
    return { ...base, status: 0, error: cause?.code ?? (error as Error).name, latencyMs: performance.now() - started }
  }
}

/**
 * A bounded closed-loop load: `concurrency` workers each send one request, wait for its answer,
 * and send the next, until stopped (or maxDurationMs). Every outcome is recorded with its latency.
 */
export function startLoad (options: LoadOptions): RunningLoad {
  const outcomes: Outcome[] = []
  const until = Date.now() + options.maxDurationMs
  const state = { stopped: false }

  async function worker (index: number): Promise<void> {
    while (!state.stopped && Date.now() < until) {
      const request = options.next(index)
      if (request === undefined) {
        await sleep(20)
        continue
      }
      outcomes.push(await send(options.baseUrl, request, options.clientTimeoutMs))
    }
  }

  const workers = Array.from({ length: options.concurrency }, (_, index) => worker(index))
  return {
    outcomes,
    stop: async () => {
      state.stopped = true
      await Promise.all(workers)
      return outcomes
    }
  }
}

/** Counts of outcomes by status (`200`, `503`, `error`), for the summary lines. */
export function tally (outcomes: readonly Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const outcome of outcomes) {
    const key = outcome.status === 0 ? 'error' : String(outcome.status)
    counts[key] = (counts[key] ?? 0) + 1
  }
  return counts
}

/** `faults: <scenario> key=value ...`: the line the CI log and the issue note quote, figures in the given order. */
export function summaryLine (scenario: string, figures: Array<[string, number | string]>): string {
  return `faults: ${scenario} ${figures.map(([key, value]) => `${key}=${value}`).join(' ')}`
}
