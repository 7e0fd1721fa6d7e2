import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TransactionSql } from 'postgres'
import { createSql, databaseName, quoteIdentifier, withDatabase } from './client.ts'

export const migrationsDir = fileURLToPath(new URL('../../migrations/', import.meta.url))
/** Any constant: both instances of a rolling start take the same advisory lock. */
const MIGRATION_LOCK_KEY = 4_711_2024
/** Group role the SQL files grant to; the runtime login role of DATABASE_URL is made a member. */
export const RUNTIME_GROUP_ROLE = 'atrium_runtime'

export interface MigrateOptions {
  ownerUrl: string
  runtimeUrl: string
  /** role-level statement_timeout for the runtime role, the backstop behind per-request budgets */
  statementTimeoutMs?: number
  /** where the SQL files are (default: migrations/ of the project) */
  dir?: string
  log?: (message: string) => void
}

export interface MigrateResult {
  applied: string[]
  skipped: number
}

export function requireOwnerUrl (config: { DATABASE_OWNER_URL?: string | undefined }): string {
  if (config.DATABASE_OWNER_URL === undefined) throw new Error('DATABASE_OWNER_URL: is required to run migrations')
  return config.DATABASE_OWNER_URL
}

export async function listMigrations (dir = migrationsDir): Promise<string[]> {
  return (await readdir(dir)).filter(f => /^\d+_[\w-]+\.sql$/.test(f)).sort()
}

/** Creates the database named in the owner URL when it does not exist yet (development). */
export async function ensureDatabase (ownerUrl: string, log: (m: string) => void = () => {}): Promise<void> {
  const name = databaseName(ownerUrl)
  const admin = createSql(withDatabase(ownerUrl, 'postgres'), { max: 1 })
  try {
    const [row] = await admin`select 1 as found from pg_database where datname = ${name}`
    if (!row) {
      log(`creating database ${name}`)
      await admin.unsafe(`create database ${quoteIdentifier(name)}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error // another instance created it first
      })
    }
  } finally {
    await admin.end()
  }
}

/**
 * Applies every migration file not applied yet, in file-name order, all in one transaction (a
 * failing file leaves the database as it was) under a transaction-scoped advisory lock, so that
 * instances starting together apply each file once.
 */
export async function migrate (options: MigrateOptions): Promise<MigrateResult> {
  const log = options.log ?? (() => {})
  const dir = options.dir ?? migrationsDir
  const files = await listMigrations(dir)
  const sql = createSql(options.ownerUrl, { max: 1, applicationName: 'atrium-migrate' })
  try {
    return await sql.begin(async tx => {
      // transaction-scoped: released by COMMIT or ROLLBACK, never leaked by a crash
      await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`
      await tx`create table if not exists schema_migrations (
        name text primary key,
        applied_at timestamptz not null default now()
      )`
      await ensureRuntimeRole(tx, options)
      const done = new Set((await tx<{ name: string }[]>`select name from schema_migrations`).map(r => r.name))
      const applied: string[] = []
      for (const file of files) {
        if (done.has(file)) continue
        log(`applying ${file}`)
        const text = await readFile(join(dir, file), 'utf8')
        await tx.savepoint(async sp => {
          await sp.unsafe(text).simple()
          await sp`insert into schema_migrations (name) values (${file})`
        })
        applied.push(file)
      }
      log(applied.length === 0 ? `database is up to date (${files.length} migrations)` : `applied ${applied.length} migration(s)`)
      return { applied, skipped: files.length - applied.length }
    })
  } finally {
    await sql.end()
  }
}

/**
 * The runtime role: the login role of DATABASE_URL, a member of atrium_runtime, owning no tables
 * and without BYPASSRLS, so row-level security applies to it. Roles are cluster-wide, so
 * concurrent creation by another database's migration is tolerated.
 */
async function ensureRuntimeRole (tx: TransactionSql, options: MigrateOptions): Promise<void> {
  const runtime = new URL(options.runtimeUrl)
  const owner = new URL(options.ownerUrl)
  const login = decodeURIComponent(runtime.username)
  if (!login || login === decodeURIComponent(owner.username)) {
    throw new Error('DATABASE_URL must name a runtime role other than the owner of DATABASE_OWNER_URL')
  }
  await createRoleIfMissing(tx, RUNTIME_GROUP_ROLE, 'nologin')
  await createRoleIfMissing(tx, login, 'login')
  const role = quoteIdentifier(login)
  await tx.unsafe(`alter role ${role} login nosuperuser nobypassrls`)
  await tx.unsafe(`grant ${quoteIdentifier(RUNTIME_GROUP_ROLE)} to ${role}`)
  if (runtime.password) {
    await tx.unsafe(`alter role ${role} password '${decodeURIComponent(runtime.password).replaceAll("'", "''")}'`)
  }
  if (options.statementTimeoutMs !== undefined) {
    await tx.unsafe(`alter role ${role} set statement_timeout = ${Math.trunc(options.statementTimeoutMs)}`)
  }
  await tx.unsafe(`grant connect, temporary on database ${quoteIdentifier(databaseName(options.ownerUrl))} to ${quoteIdentifier(RUNTIME_GROUP_ROLE)}`)
}

async function createRoleIfMissing (tx: TransactionSql, name: string, kind: 'login' | 'nologin'): Promise<void> {
  const [exists] = await tx`select 1 as found from pg_roles where rolname = ${name}`
  if (exists) return
  await tx.savepoint(sp => sp.unsafe(`create role ${quoteIdentifier(name)} ${kind}`)).catch((error: { code?: string }) => {
    if (error.code !== '42710' && error.code !== '23505') throw error
  })
}
