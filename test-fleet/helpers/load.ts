import autocannon from 'autocannon'
import { bearer } from '../../test/helpers/users.ts'
import { call } from '../../test/helpers/http-client.ts'

export interface Answered { at: number, status: number, latencyMs: number, kind: 'read' | 'write' }

export interface LoadResult {
  /** autocannon's socket errors and timeouts (reads), plus writes that got no answer */
  errors: number
  timeouts: number
  /** title → id of every POST answered 201 */
  acknowledged: Map<string, string>
  /** titles of the POSTs answered with anything else, or not at all */
  errored: Set<string>
  sent: Set<string>
}

export interface ArticleLoad {
  /** every answer as it came: when, what status, how long it took */
  readonly answers: readonly Answered[]
  /** stops sending; resolves once the requests in flight are answered */
  stop: () => Promise<LoadResult>
}

export interface ArticleLoadOptions {
  baseUrl: string
  token: string
  /** an article to read by id */
  articleId: string
  /** autocannon's connections for the reads, and their overall rate a second */
  readConnections: number
  readRate: number
  /** writers, each sending its next POST once the last is answered */
  writers: number
  /** a request without an answer after this many ms is an error */
  timeoutMs: number
  /** the load stops by itself after this, whatever the test does */
  maxDurationMs: number
  titlePrefix: string
}

/**
 * Load through `baseUrl` as clients see it: autocannon reads (an article by id, a page of the
 * list) at a fixed rate, and closed-loop writers creating articles, each with a title of its own
 * and its outcome recorded, so the database can be checked against what the clients were told.
 */
export function startArticleLoad (options: ArticleLoadOptions): ArticleLoad {
  const answers: Answered[] = []
  let instance: autocannon.Instance | undefined
  const reads = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon({
      url: options.baseUrl,
      connections: options.readConnections,
      overallRate: options.readRate,
      duration: Math.ceil(options.maxDurationMs / 1_000),
      timeout: Math.ceil(options.timeoutMs / 1_000),
      headers: bearer(options.token),
      requests: [
        { method: 'GET', path: `/v1/articles/${options.articleId}` },
        { method: 'GET', path: '/v1/articles?limit=5' }
      ]
    }, (error, result) => error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(result))
    instance.on('response', (_client, status, _bytes, latencyMs) => {
      answers.push({ at: Date.now(), status, latencyMs, kind: 'read' })
    })
  })

  // Writers send each POST on a fresh connection (as the fault tests' `call` does): a reload of
  // nginx closes its idle client connections, and a client that reuses one as it closes loses its
  // POST (between client and nginx, not the app; such a client retries only idempotent requests)
  const sent = new Set<string>()
  const acknowledged = new Map<string, string>()
  const errored = new Set<string>()
  const state = { stopped: false, unanswered: 0 }
  const until = Date.now() + options.maxDurationMs
  let n = 0
  async function writer (): Promise<void> {
    while (!state.stopped && Date.now() < until) {
      const title = `${options.titlePrefix}-${n++}`
      sent.add(title)
      const started = performance.now()
      const answer = await call(options.baseUrl, {
        method: 'POST', path: '/v1/articles', headers: bearer(options.token), body: { title, tags: ['fleet'] }, timeoutMs: options.timeoutMs
      })
      const status = 'status' in answer ? answer.status : 0
      answers.push({ at: Date.now(), status, latencyMs: performance.now() - started, kind: 'write' })
      if ('status' in answer && answer.status === 201) acknowledged.set(title, (JSON.parse(answer.body) as { article: { id: string } }).article.id)
      else errored.add(title)
      if (status === 0) state.unanswered++
    }
  }
  const writers = Promise.all(Array.from({ length: options.writers }, async () => await writer()))

  return {
    answers,
    stop: async () => {
      state.stopped = true
      instance?.stop()
      const [result] = await Promise.all([reads, writers])
      return { errors: result.errors + state.unanswered, timeouts: result.timeouts, acknowledged, errored, sent }
    }
  }
}

/** Answers by kind and status, e.g. { 'read 200': 812, 'write 201': 400, 'write 503': 3 }. */
export function byStatus (answers: readonly Answered[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const { kind, status } of answers) counts[`${kind} ${status}`] = (counts[`${kind} ${status}`] ?? 0) + 1
  return counts
}
