import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * What is known about the work in progress: set by the tracing plugin for a request and
 * restored by the worker for a job, so logs, SQL and enqueued jobs carry it without threading
 * parameters through every call.
 */
export interface RequestContext {
  requestId: string
  /** the W3C trace id: the server span's (or job span's) when tracing is on, else an incoming traceparent's */
  traceId?: string
  /** the request's server span (or the job's span), when tracing is on */
  spanId?: string
  /** W3C traceparent of that span: what an outbox row written in this context carries to its job */
  traceparent?: string
  /** `GET /v1/articles/:id`, or `job:<name>` inside the worker */
  route: string
  tenantId?: string
  userId?: string
  /** epoch milliseconds after which the work is abandoned */
  deadline?: number
}

const storage = new AsyncLocalStorage<RequestContext>()

export function currentContext (): RequestContext | undefined {
  return storage.getStore()
}

export function runWithContext<T> (context: RequestContext, fn: () => T): T {
  return storage.run(context, fn)
}

/** Milliseconds left before the current deadline, or undefined when there is none. */
export function remainingBudget (now = Date.now()): number | undefined {
  const deadline = storage.getStore()?.deadline
  return deadline === undefined ? undefined : deadline - now
}
