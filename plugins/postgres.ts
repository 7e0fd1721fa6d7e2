import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Gauge } from 'prom-client'
import { createSql } from '../src/platform/db/client.ts'
import { Database } from '../src/platform/db/database.ts'
import { sqlState } from '../src/platform/db/errors.ts'
import { AppError } from '../src/platform/errors.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** the runtime role's pool (row-level security applies to it) */
    sql: import('postgres').Sql
    /** the tenant- and deadline-aware way services reach PostgreSQL */
    db: Database
  }
}

/** postgres.js's own connection failures and the socket errors it passes on. */
const CONNECTION_FAILURES = new Set([
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'
])
/** SQLSTATEs of a server that is going away or not taking connections: shutdown, crash, start-up, full. */
const SERVER_UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '53300'])

/** PostgreSQL is unreachable or going away: a 503 the client may retry, never a 500. */
export function isDatabaseUnavailable (error: unknown): boolean {
  const code = sqlState(error)
  if (code === undefined) return false
  return CONNECTION_FAILURES.has(code) || SERVER_UNAVAILABLE.has(code) || code.startsWith('08')
}

/** The pool's use at scrape time, beside atrium_db_pool_max_connections (plugins/metrics.ts). */
function poolGauges (app: FastifyInstance, db: Database, max: number): void {
  // eslint-disable-next-line no-new -- the registry keeps it; collect() reads the count on every scrape
  new Gauge({
    name: 'atrium_db_pool_in_use_connections',
    help: 'connections of this process\'s pool held by a read or transaction in flight',
    registers: [app.metrics],
    collect () { this.set(Math.min(db.callsInFlight, max)) }
  })
  // eslint-disable-next-line no-new -- as above
  new Gauge({
    name: 'atrium_db_pool_waiting_calls',
    help: 'reads and transactions in flight beyond the pool size: waiting for a connection',
    registers: [app.metrics],
    collect () { this.set(Math.max(0, db.callsInFlight - max)) }
  })
}

/**
 * The runtime role's connection pool, wrapped in the Database data path, closed on shutdown.
 * While PostgreSQL is down, requests that need it answer 503 `unavailable` with Retry-After.
 */
async function postgresPlugin (app: FastifyInstance): Promise<void> {
  const sql = createSql(app.config.DATABASE_URL, { max: app.config.DATABASE_POOL_MAX, prepare: app.config.DATABASE_PREPARE })
  app.decorate('sql', sql)
  const db = new Database(sql, {
    log: app.log,
    slowQueryMs: app.config.SLOW_QUERY_MS,
    lockTimeoutMs: app.config.LOCK_TIMEOUT_MS,
    defaultBudgetMs: app.config.DATABASE_STATEMENT_TIMEOUT_MS,
    ...(app.telemetry === undefined ? {} : { observer: app.telemetry.database })
  })
  app.decorate('db', db)
  poolGauges(app, db, app.config.DATABASE_POOL_MAX)
  app.addErrorTranslator(error => isDatabaseUnavailable(error)
    ? new AppError('unavailable', { detail: 'the database is unavailable; retry later', retryAfter: 1 })
    : undefined)
  app.addHook('onClose', async () => {
    await sql.end({ timeout: 5 })
  })
}

export default fp(postgresPlugin, { name: 'postgres', fastify: '5.x', dependencies: ['errors', 'metrics'] })
