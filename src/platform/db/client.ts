import postgres, { type Options, type Sql } from 'postgres'

export type { Sql }

export interface SqlOptions {
  max?: number
  applicationName?: string
  /** seconds a connection may stay idle in the pool */
  idleTimeout?: number
  connectTimeout?: number
  /**
   * named prepared statements (default true). PgBouncer 1.18 in transaction mode hands each
   * transaction any server connection, where a statement prepared on another does not exist:
   * behind it, false (postgres.js then sends unnamed statements, parsed on every execution).
   */
  prepare?: boolean
  debug?: Options<Record<string, never>>['debug']
}

/** One postgres.js pool. Per-request tags travel as parameters, so prepared statements can stay on (DATABASE_PREPARE). */
export function createSql (url: string, options: SqlOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    idle_timeout: options.idleTimeout ?? 30,
    connect_timeout: options.connectTimeout ?? 5,
    // seconds before a pooled connection tries again after failing to connect: capped at 1 s like
    // Redis's (the default grows to 20 s during an outage and then delays recovery that long)
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
    prepare: options.prepare ?? true,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? 'atrium' },
    ...(options.debug ? { debug: options.debug } : {})
  })
}

/** The same server, another database: for CREATE DATABASE and DROP DATABASE. */
export function withDatabase (url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

export function databaseName (url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''))
}

export function quoteIdentifier (name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}
