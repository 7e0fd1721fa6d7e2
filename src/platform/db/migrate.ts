import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TransactionSql } from 'postgres'
import { createSql, databaseName, quoteIdentifier, withDatabase, type Sql } from './client.ts'

export const migrationsDir = fileURLToPath(new URL('../../../migrations/', import.meta.url))
/** Any constant: both instances of a rolling start take the same advisory lock. */
const MIGRATION_LOCK_KEY = 4_711_2024
/** Group role the SQL files grant to; the runtime login role of DATABASE_URL is made a member. */
export const RUNTIME_GROUP_ROLE = 'atrium_runtime'
/**
 * Owns the schema and everything in it; the migration files run as it (SET ROLE). NOLOGIN,
 * NOSUPERUSER, NOBYPASSRLS: the SECURITY DEFINER functions run as this role, so a hole in one of
 * them gives away the schema's data, never the cluster.
 */
export const OWNER_ROLE = 'atrium_owner'

export interface MigrateOptions {
  ownerUrl: string
  runtimeUrl: string
  /** role-level statement_timeout for the runtime role, the backstop behind per-request budgets */
  statementTimeoutMs?: number
  /** where the SQL files are (default: migrations/ of the project) */
  dir?: string
  log?: (message: string) => void
  /** aborting it (a SIGTERM) drops the connection: the run's transaction rolls back, migrate rejects with MigrationInterrupted */
  signal?: AbortSignal
}

/** migrate was stopped through its signal; nothing of the run was committed */
export class MigrationInterrupted extends Error {
  override name = 'MigrationInterrupted'
  constructor () {
    super('interrupted: nothing of this run was applied (its transaction rolled back)')
  }
}

/** An applied migration file whose content is no longer what was applied: migrate applies nothing. */
export class ChangedMigrationError extends Error {
  override name = 'ChangedMigrationError'
  constructor (readonly file: string, recorded: string, current: string) {
    super(`${file} was changed after it was applied (sha256 ${recorded.slice(0, 12)}… when applied, ${current.slice(0, 12)}… now): ` +
      'restore it and put the change in a new migration file')
  }
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

/** sha256 (hex) of a migration file's bytes, as recorded in schema_migrations.checksum */
export const checksumOf = (text: string): string => createHash('sha256').update(text).digest('hex')

/**
 * Applies every migration file not applied yet, in file-name order, all in one transaction (a
 * failing file leaves the database as it was) under a transaction-scoped advisory lock, so that
 * instances starting together apply each file once. Each applied file's checksum is recorded; an
 * applied file that changed since stops the run (ChangedMigrationError) before anything is applied.
 */
export async function migrate (options: MigrateOptions): Promise<MigrateResult> {
  const log = options.log ?? (() => {})
  const dir = options.dir ?? migrationsDir
  const files = await listMigrations(dir)
  const texts = new Map(await Promise.all(files.map(async file => [file, await readFile(join(dir, file), 'utf8')] as const)))
  const interrupted = () => options.signal?.aborted === true
  if (interrupted()) throw new MigrationInterrupted()
  const sql = createSql(options.ownerUrl, { max: 1, applicationName: 'atrium-migrate' })
  // closing the socket ends the backend's session, which rolls the transaction back
  const interrupt = () => { sql.end({ timeout: 0 }).catch(() => {}) }
  options.signal?.addEventListener('abort', interrupt, { once: true })
  try {
    return await sql.begin(async tx => {
      // a statement still running when the client goes away stops within a second, not at its end
      await tx`set local client_connection_check_interval = 1000`
      // transaction-scoped: released by COMMIT or ROLLBACK, never leaked by a crash
      await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`
      await ensureOwnerRole(tx)
      await ensureRuntimeRole(tx, options)
      await restrictDatabasePrivileges(tx, databaseName(options.ownerUrl), decodeURIComponent(new URL(options.runtimeUrl).username))
      await transferOwnership(tx)
      // from here on as the owner role: whatever the files create belongs to it
      await tx.unsafe(`set local role ${quoteIdentifier(OWNER_ROLE)}`)
      await tx`create table if not exists schema_migrations (
        name text primary key,
        applied_at timestamptz not null default now()
      )`
      // databases migrated before checksums were recorded get the column, then their files' checksums below
      await tx`alter table schema_migrations add column if not exists checksum text`
      const done = await verifyApplied(tx, texts, log)
      const applied: string[] = []
      for (const [file, text] of texts) {
        if (done.has(file)) continue
        log(`applying ${file}`)
        await tx.savepoint(async sp => {
          await sp.unsafe(text).simple()
          await sp`insert into schema_migrations (name, checksum) values (${file}, ${checksumOf(text)})`
        })
        applied.push(file)
      }
      log(applied.length === 0 ? `database is up to date (${files.length} migrations)` : `applied ${applied.length} migration(s)`)
      return { applied, skipped: files.length - applied.length }
    })
  } catch (error) {
    if (interrupted()) throw new MigrationInterrupted()
    throw error
  } finally {
    options.signal?.removeEventListener('abort', interrupt)
    await sql.end()
  }
}

/**
 * The names of the applied migrations, each checked against its file: a recorded checksum that
 * differs stops the run; one not recorded yet (applied before checksums were kept) is filled in
 * from the file as it is now.
 */
async function verifyApplied (tx: TransactionSql, texts: ReadonlyMap<string, string>, log: (message: string) => void): Promise<Set<string>> {
  const rows = await tx<Array<{ name: string, checksum: string | null }>>`select name, checksum from schema_migrations order by name`
  let filled = 0
  for (const row of rows) {
    const text = texts.get(row.name)
    if (text === undefined) continue
    const current = checksumOf(text)
    if (row.checksum === null) {
      await tx`update schema_migrations set checksum = ${current} where name = ${row.name}`
      filled++
    } else if (row.checksum !== current) {
      throw new ChangedMigrationError(row.name, row.checksum, current)
    }
  }
  if (filled > 0) log(`recorded the checksums of ${filled} migration(s) applied before checksums were kept`)
  return new Set(rows.map(row => row.name))
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
  if (!login || login === decodeURIComponent(owner.username) || login === OWNER_ROLE) {
    throw new Error(`DATABASE_URL must name a runtime role other than the owner of DATABASE_OWNER_URL and ${OWNER_ROLE}`)
  }
  await createRoleIfMissing(tx, RUNTIME_GROUP_ROLE, 'nologin')
  await createRoleIfMissing(tx, login, 'login')
  const role = quoteIdentifier(login)
  await tx.unsafe(`alter role ${role} login nosuperuser nobypassrls`)
  await tx.unsafe(`grant ${quoteIdentifier(RUNTIME_GROUP_ROLE)} to ${role}`)
  const [ownerMember] = await tx<{ member: boolean }[]>`
    select exists (select 1 from pg_auth_members m join pg_roles o on o.oid = m.roleid
                   where o.rolname = ${OWNER_ROLE} and m.member = (select oid from pg_roles where rolname = ${login})) as member`
  if (ownerMember?.member === true) await tx.unsafe(`revoke ${quoteIdentifier(OWNER_ROLE)} from ${role}`)
  if (runtime.password) {
    await tx.unsafe(`alter role ${role} password '${decodeURIComponent(runtime.password).replaceAll("'", "''")}'`)
  }
  if (options.statementTimeoutMs !== undefined) {
    await tx.unsafe(`alter role ${role} set statement_timeout = ${Math.trunc(options.statementTimeoutMs)}`)
  }
}

/**
 * The owner role: created when missing (roles are cluster-wide, so concurrent creation is
 * tolerated), stripped of any privilege it may have been given, made the owner of schema public
 * and granted to the connecting role so that it can SET ROLE to it.
 */
async function ensureOwnerRole (tx: TransactionSql): Promise<void> {
  await createRoleIfMissing(tx, OWNER_ROLE, 'nologin')
  const owner = quoteIdentifier(OWNER_ROLE)
  const [role] = await tx<{ privileged: boolean, member: boolean, ownsSchema: boolean }[]>`
    select r.rolsuper or r.rolbypassrls or r.rolcanlogin or r.rolcreaterole or r.rolcreatedb as privileged,
      pg_has_role(current_user, r.oid, 'MEMBER') as member,
      (select nspowner from pg_namespace where nspname = 'public') = r.oid as "ownsSchema"
    from pg_roles r where r.rolname = ${OWNER_ROLE}`
  if (role === undefined) throw new Error(`role ${OWNER_ROLE} is missing`)
  // ALTER ROLE updates a cluster-wide row: only when needed, so concurrent runs do not collide
  if (role.privileged) await tx.unsafe(`alter role ${owner} nologin nosuperuser nobypassrls nocreaterole nocreatedb`)
  if (!role.member) {
    await tx.savepoint(sp => sp.unsafe(`grant ${owner} to current_user`)).catch((error: { code?: string }) => {
      if (error.code !== '23505') throw error // granted by a concurrent run
    })
  }
  if (!role.ownsSchema) await tx.unsafe(`alter schema public owner to ${owner}`)
}

/**
 * Database-level privileges: nobody but the database's owner may create temporary objects (a
 * temporary table or view named like a real one is what a search_path attack on a SECURITY
 * DEFINER function needs), and the runtime role may only connect. Database ACLs are not copied by
 * CREATE DATABASE ... TEMPLATE, so a database cloned from a migrated one needs this call too.
 */
export async function restrictDatabasePrivileges (sql: Sql | TransactionSql, database: string, runtimeLogin?: string): Promise<void> {
  const name = quoteIdentifier(database)
  const grantees = ['public', quoteIdentifier(RUNTIME_GROUP_ROLE), quoteIdentifier(OWNER_ROLE)]
  if (runtimeLogin !== undefined && runtimeLogin !== '') grantees.push(quoteIdentifier(runtimeLogin))
  await sql.unsafe(`revoke temporary on database ${name} from ${grantees.join(', ')}`)
  await sql.unsafe(`grant connect on database ${name} to ${quoteIdentifier(RUNTIME_GROUP_ROLE)}`)
}

/**
 * Hands what the connecting role owns in schema public to the owner role: a database migrated
 * before the owner role existed belongs to the admin of DATABASE_OWNER_URL (often the superuser
 * `postgres`, whose objects REASSIGN OWNED refuses to move). Indexes, row types, array types and
 * the sequences of identity and serial columns follow their table; extension members stay.
 */
async function transferOwnership (tx: TransactionSql): Promise<void> {
  const owner = quoteIdentifier(OWNER_ROLE)
  const relations = await tx<{ name: string, relkind: string }[]>`
    select c.oid::regclass::text as name, c.relkind::text as relkind
    from pg_class c
    where c.relnamespace = 'public'::regnamespace and c.relowner = (select oid from pg_roles where rolname = current_user)
      and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
      and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid
                      and (d.deptype = 'e' or (c.relkind = 'S' and d.deptype in ('a', 'i'))))
    order by c.relkind = 'S', c.oid`
  const kinds: Record<string, string> = { r: 'table', p: 'table', v: 'view', m: 'materialized view', f: 'foreign table', S: 'sequence' }
  for (const relation of relations) {
    await tx.unsafe(`alter ${kinds[relation.relkind] ?? 'table'} ${relation.name} owner to ${owner}`)
  }
  const routines = await tx<{ name: string }[]>`
    select p.oid::regprocedure::text as name from pg_proc p
    where p.pronamespace = 'public'::regnamespace and p.proowner = (select oid from pg_roles where rolname = current_user)
      and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
    order by p.oid`
  for (const routine of routines) await tx.unsafe(`alter routine ${routine.name} owner to ${owner}`)
  const types = await tx<{ name: string }[]>`
    select t.oid::regtype::text as name from pg_type t
    where t.typnamespace = 'public'::regnamespace and t.typowner = (select oid from pg_roles where rolname = current_user)
      and t.typtype in ('c', 'd', 'e', 'r')
      and (t.typrelid = 0 or (select relkind from pg_class where oid = t.typrelid) = 'c')
      and not exists (select 1 from pg_depend d where d.classid = 'pg_type'::regclass and d.objid = t.oid and d.deptype = 'e')
    order by t.oid`
  for (const type of types) await tx.unsafe(`alter type ${type.name} owner to ${owner}`)
}

async function createRoleIfMissing (tx: TransactionSql, name: string, kind: 'login' | 'nologin'): Promise<void> {
  const [exists] = await tx`select 1 as found from pg_roles where rolname = ${name}`
  if (exists) return
  await tx.savepoint(sp => sp.unsafe(`create role ${quoteIdentifier(name)} ${kind}`)).catch((error: { code?: string }) => {
    if (error.code !== '42710' && error.code !== '23505') throw error
  })
}
