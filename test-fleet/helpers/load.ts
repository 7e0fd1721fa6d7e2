import { setTimeout as sleep } from 'node:timers/promises'
import { bearer } from '../../test/helpers/users.ts'
import { call } from '../../test/helpers/http-client.ts'

export interface Answered { at: number, status: number, latencyMs: number, kind: 'read' | 'write' }

export interface LoadResult {
  /** requests that got no answer: a socket error, or none within the timeout */
  errors: number
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
  /** readers, each with one GET in flight, together at most readRate a second */
  readers: number
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
 * Load through `baseUrl` as clients see it: closed-loop readers (an article by id, a page of the
 * list) at a bounded rate and closed-loop writers creating articles, each with a title of its own
 * and its outcome recorded, so the database can be checked against what the clients were told.
 * Every request goes on a fresh connection (the fault tests' `call`): the test reloads nginx, which
 * closes its idle client connections, and a client sending on one as it closes gets a socket error
 * (autocannon, which keeps its connections, saw 2 of ~5,700 so): that race is between a client and
 * nginx, not the app, and nginx-to-app keep-alive, which is what draining is about, is unchanged.
 */
export function startArticleLoad (options: ArticleLoadOptions): ArticleLoad {
  const answers: Answered[] = []
  const state = { stopped: false, unanswered: 0 }
  const until = Date.now() + options.maxDurationMs
  const paths = [`/v1/articles/${options.articleId}`, '/v1/articles?limit=5']
  const pause = Math.max(0, Math.round(1_000 * options.readers / options.readRate))
  let reads = 0
  async function reader (): Promise<void> {
    while (!state.stopped && Date.now() < until) {
      const started = performance.now()
      const answer = await call(options.baseUrl, { method: 'GET', path: paths[reads++ % paths.length]!, headers: bearer(options.token), timeoutMs: options.timeoutMs })
      const status = 'status' in answer ? answer.status : 0
      answers.push({ at: Date.now(), status, latencyMs: performance.now() - started, kind: 'read' })
      if (status === 0) state.unanswered++
      await sleep(Math.max(0, pause - (performance.now() - started)))
    }
  }
  const readers = Promise.all(Array.from({ length: options.readers }, async () => await reader()))

  // Writers send each POST on a fresh connection (as the fault tests' `call` does): a reload of
  // nginx closes its idle client connections, and a client that reuses one as it closes loses its
  // POST (between client and nginx, not the app; such a client retries only idempotent requests)
  const sent = new Set<string>()
  const acknowledged = new Map<string, string>()
  const errored = new Set<string>()
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
      await Promise.all([readers, writers])
      return { errors: state.unanswered, acknowledged, errored, sent }
    }
  }
}

/** Answers by kind and status, e.g. { 'read 200': 812, 'write 201': 400, 'write 503': 3 }. */
export function byStatus (answers: readonly Answered[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const { kind, status } of answers) counts[`${kind} ${status}`] = (counts[`${kind} ${status}`] ?? 0) + 1
  return counts
}
