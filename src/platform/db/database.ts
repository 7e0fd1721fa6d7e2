import type { PendingQuery, Row, Sql, TransactionSql } from 'postgres'
import { currentContext } from '../../context.ts'
import { AppError } from '../errors.ts'
import type { ServiceLog } from '../logger.ts'

export type { Sql, TransactionSql }

export interface DatabaseOptions {
  log: ServiceLog
  /** queries (or transactions) slower than this are logged, without their parameters */
  slowQueryMs: number
  /** lock_timeout inside a transaction, capped by the remaining budget */
  lockTimeoutMs: number
  /** budget for work outside a request (jobs, scripts), when the context sets no deadline */
  defaultBudgetMs: number
  /** sees every read and transaction (tracing, src/platform/telemetry/); absent, nothing is wrapped */
  observer?: DatabaseObserver
}

/**
 * Wraps each read (by its name) and each transaction, from before the pool wait to the answer:
 * `run` is the call itself, its result or error passed through unchanged.
 */
export interface DatabaseObserver {
  read: <T extends readonly Row[]>(name: string, run: () => Promise<T>) => Promise<T>
  transaction: <T>(run: () => Promise<T>) => Promise<T>
}

const APPLICATION_NAME_MAX = 63

/**
 * The tag PostgreSQL shows for this work in pg_stat_activity and in its logs (%a):
 * `atrium <request id> <route>`, cut to the 63 bytes application_name holds.
 */
export function requestTag (): string {
  const context = currentContext()
  if (context === undefined) return 'atrium'
  const tag = `atrium ${context.requestId} ${context.route}`
  return tag.length <= APPLICATION_NAME_MAX ? tag : tag.slice(0, APPLICATION_NAME_MAX)
}

/** What a read that scopes itself (a function that takes them) gets: the request tag. */
export interface ReadScope {
  tag: string
}

/*
 * Plans that do not depend on their values. PostgreSQL plans a prepared statement anew for each of
 * its first five executions, then keeps its generic plan only if that plan's estimated cost is no
 * higher than the custom plans' average. A keyset page that walks an index in its order (the
 * article list; the member and audit lists sort instead, and pass) fails that test: a custom plan knows the
 * tenant's row count and the LIMIT, the generic one guesses both, so its estimate comes out higher
 * and every call is planned again, although the plan (walk the index that leads with the tenant,
 * newest first) is the same for every value. Planning was about half of such a read: the scoped
 * first page of articles, as the runtime role, ran at 5.6-6.1k tps planned per call and 10.1-12.1k
 * with its plan kept (pgbench, bench/README.md "Plans kept"). Such reads pass their values as `(select $n::type)`: an InitPlan, which the
 * planner estimates without looking into, so custom and generic plans cost the same and the
 * generic plan is kept. A read whose best plan does depend on a value (a tag, through its GIN
 * index) passes it as a plain parameter, and the plan cache is left to plan it per call when the
 * values make a difference. test/platform/db/plan-cache.test.ts holds the pages to this.
 */

// The scoping's text around its three holes (tenant, tag, the read), written once for both of its
// forms: a postgres.js template for a read built per call, finished text for a fixed read.
const SCOPE = [
  'select r.* from (select set_config(\'app.tenant_id\', ',
  ', true) as tenant, set_config(\'application_name\', ',
  ', true) as tag) s cross join lateral (select * from (',
  ') q where s.tenant is not null offset 0) r'
] as const
const SCOPE_TEMPLATE: TemplateStringsArray = Object.assign([...SCOPE], { raw: [...SCOPE] })

/**
 * A tenant read as one statement that scopes itself: the row `s` sets the tenant (for row-level
 * security) and the request tag, and the read is a LATERAL subquery that refers to it, so
 * PostgreSQL must compute `s` before it runs the read; `offset 0` keeps the planner from
 * flattening the read into the join and reordering it. Should a plan ever run the read first, no
 * tenant is set yet and row-level security returns nothing: it fails closed. No plpgsql: each
 * read keeps its own prepared statement and plan (a function's generic plan served every filter
 * combination of a list, badly; bench/README.md, SQL reads).
 */
function scoped<T extends readonly Row[]> (sql: Sql, tenantId: string, tag: string, read: PendingQuery<T>): PendingQuery<T> {
  return sql<T>(SCOPE_TEMPLATE, tenantId, tag, read)
}

/** The same scoping around a read's text, which takes tenant and tag as its `$1` and `$2`. */
const scopedText = (read: string): string => `${SCOPE[0]}$1${SCOPE[1]}$2${SCOPE[2]}${read}${SCOPE[3]}`

/**
 * A tenant read whose text never changes (the hottest: one row by id), scoped as `scoped()` does it,
 * once, when it is defined: each call sends the finished text with its parameters, where a read
 * built with fragments assembles three postgres.js queries and its text on every call (a few
 * microseconds of a request; bench/README.md, Hot-path notes). Made by `tenantStatement`.
 */
export interface TenantStatement<T extends readonly Row[]> {
  readonly name: string
  readonly text: string
  /** the rows' type, carried to `Database.readStatement`; never set */
  readonly rows?: T
}

/**
 * A fixed tenant read: `read` is SQL text with its own parameters as `$1`, `$2`…, and no other `$`.
 * They become `$3`, `$4`… of the scoped statement, whose `$1` and `$2` are the tenant and the tag.
 */
export function tenantStatement<T extends readonly Row[]> (name: string, read: string): TenantStatement<T> {
  return { name, text: scopedText(read.replace(/\$(\d+)/g, (_match, index: string) => `$${Number(index) + 2}`)) }
}

/** Work that needs the transaction's outcome: it runs with the pool once the transaction has committed. */
export type AfterCommit = (sql: Sql) => void

const afterCommitCallbacks = new WeakMap<TransactionSql, AfterCommit[]>()

/** Runs `fn` once the transaction `tx` has committed (never when it rolls back). */
export function afterCommit (tx: TransactionSql, fn: AfterCommit): void {
  const callbacks = afterCommitCallbacks.get(tx)
  if (callbacks === undefined) afterCommitCallbacks.set(tx, [fn])
  else if (!callbacks.includes(fn)) callbacks.push(fn)
}

/**
 * Inside a transaction that spans tenants (opened with `transaction(null, …)`), runs `fn` for each
 * item in turn with the item's tenant set for row-level security, then sets no tenant again, as the
 * transaction began: one statement per item and one after them, none for no items. The setting is
 * local to the transaction, so when `fn` throws it ends with the rollback.
 */
export async function forEachTenant<T> (tx: TransactionSql, items: readonly T[], tenantOf: (item: T) => string, fn: (item: T) => Promise<void>): Promise<void> {
  if (items.length === 0) return
  for (const item of items) {
    await tx`select set_config('app.tenant_id', ${tenantOf(item)}, true)`
    await fn(item)
  }
  await tx`select set_config('app.tenant_id', '', true)`
}

/**
 * The one way services reach PostgreSQL. Every call carries the request's tag and is bounded by
 * the request's deadline, and tenant data is reached only with the tenant set for row-level security:
 * - `transaction(tenantId, fn)`: BEGIN; one statement that sets tenant, tag, statement_timeout and
 *   lock_timeout locally; fn's statements; COMMIT. For every write. A transaction that spans
 *   tenants (opened with none) acts as each in turn through `forEachTenant`.
 * - `read(name, tenantId, (sql, scope) => query)`: one statement, no transaction. With a tenant,
 *   the query is wrapped so that the same statement sets tenant and tag before it reads (`scoped`);
 *   without one it runs as built (a function that scopes itself takes `scope.tag`). The deadline
 *   cancels it (a setting made inside a statement comes too late to arm its own statement_timeout).
 * - `readStatement(statement, tenantId, parameters)`: the same for a read of fixed text, scoped once
 *   when it was defined (`tenantStatement`): the hottest reads, with nothing to build per call.
 */
export class Database {
  private inFlight = 0
  private readonly settled = (): void => { this.inFlight-- }
  /** fixed reads are prepared when the pool prepares (not behind PgBouncer's transaction mode) */
  private readonly statementOptions: { prepare: boolean }

  constructor (readonly sql: Sql, private readonly options: DatabaseOptions) {
    this.statementOptions = { prepare: sql.options.prepare }
    const observer = options.observer
    // observed: this instance's two calls go through the observer (no await of its own: the caller
    // awaits what the observer returns); unobserved, not even a check
    if (observer !== undefined) {
      const read = this.read.bind(this)
      const transaction = this.transaction.bind(this)
      const readStatement = this.readStatement.bind(this)
      this.read = (name, tenantId, build) => observer.read(name, () => read(name, tenantId, build))
      this.readStatement = (statement, tenantId, parameters) => observer.read(statement.name, () => readStatement(statement, tenantId, parameters))
      this.transaction = (tenantId, fn) => observer.transaction(() => transaction(tenantId, fn))
    }
  }

  /**
   * Reads and transactions begun and not yet settled: each holds a pooled connection, or waits for
   * one (postgres.js keeps its pool state private; /metrics shows the pool from this). A read counts
   * until its query settles, even past its deadline, because the connection is busy until then.
   */
  get callsInFlight (): number { return this.inFlight }

  /** Milliseconds this work may still take; a spent budget is a timeout before any query runs. */
  private budget (): number {
    const deadline = currentContext()?.deadline
    const remaining = deadline === undefined ? this.options.defaultBudgetMs : deadline - Date.now()
    if (remaining <= 0) throw timeoutError()
    return Math.ceil(remaining)
  }

  async transaction<T> (tenantId: string | null, fn: (tx: TransactionSql) => Promise<T>): Promise<T> {
    const budget = this.budget()
    const started = performance.now()
    const lockTimeout = Math.min(this.options.lockTimeoutMs, budget)
    let abandoned = false
    let transaction: TransactionSql | undefined
    let timer: NodeJS.Timeout | undefined
    // Waiting for a pooled connection counts against the budget; once the transaction has begun,
    // statement_timeout governs, so a late COMMIT can never follow a 503.
    const poolWait = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { abandoned = true; reject(timeoutError()) }, budget)
    })
    const work = this.sql.begin(async tx => {
      clearTimeout(timer)
      if (abandoned) throw timeoutError()
      transaction = tx
      await tx`select
        set_config('app.tenant_id', ${tenantId ?? ''}, true),
        set_config('application_name', ${requestTag()}, true),
        set_config('statement_timeout', ${String(Math.max(1, budget - Math.ceil(performance.now() - started)))}, true),
        set_config('lock_timeout', ${String(lockTimeout)}, true)`
      return fn(tx)
    }) as Promise<T>
    this.inFlight++
    work.then(this.settled, this.settled)
    try {
      const result = await Promise.race([work, poolWait])
      const callbacks = transaction === undefined ? undefined : afterCommitCallbacks.get(transaction)
      if (callbacks !== undefined) for (const callback of callbacks) callback(this.sql)
      return result
    } finally {
      clearTimeout(timer)
      this.logIfSlow('transaction', started)
      if (abandoned) work.catch(() => {})
    }
  }

  async read<T extends readonly Row[]> (name: string, tenantId: string | null, build: (sql: Sql, scope: ReadScope) => PendingQuery<T>): Promise<T> {
    const budget = this.budget()
    const started = performance.now()
    const tag = requestTag()
    const read = build(this.sql, { tag })
    return this.answer(name, tenantId === null ? read : scoped(this.sql, tenantId, tag, read), budget, started)
  }

  /** `read` for a fixed tenant statement (`tenantStatement`): its parameters after tenant and tag. */
  async readStatement<T extends readonly Row[]> (statement: TenantStatement<T>, tenantId: string, parameters: ReadonlyArray<string | number>): Promise<T> {
    const budget = this.budget()
    const started = performance.now()
    const query = this.sql.unsafe<T & Row[]>(statement.text, [tenantId, requestTag(), ...parameters], this.statementOptions)
    return this.answer(statement.name, query, budget, started)
  }

  /** The rows of a read that has been sent, or a timeout at the deadline, whichever comes first. */
  private answer<T extends readonly Row[]> (name: string, query: PendingQuery<T>, budget: number, started: number): Promise<T> {
    // postgres.js may queue the query behind a busy connection, where a cancel only lands once it
    // runs: the answer does not wait for that. A read has no effect to lose. One promise settled by
    // whichever comes first, not Promise.race: this is every request's path, and the race cost
    // three more promises and their closures per read.
    this.inFlight++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        query.cancel()
        reject(timeoutError())
      }, budget)
      query.then(rows => {
        this.inFlight--
        clearTimeout(timer)
        this.logIfSlow(name, started)
        resolve(rows)
      }, (error: unknown) => {
        this.inFlight--
        clearTimeout(timer)
        this.logIfSlow(name, started)
        reject(error)
      })
    })
  }

  private logIfSlow (name: string, started: number): void {
    const duration = performance.now() - started
    if (duration >= this.options.slowQueryMs) {
      this.options.log.warn({ statement: name, duration_ms: Math.round(duration) }, 'slow query')
    }
  }
}

export function timeoutError (): AppError {
  return new AppError('timeout', { detail: 'the request ran out of time; retry later', retryAfter: 1 })
}
