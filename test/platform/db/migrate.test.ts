import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createSql } from '../../../src/platform/db/client.ts'
import { ChangedMigrationError, checksumOf, listMigrations, migrate, MigrationInterrupted, migrationsDir, OWNER_ROLE, RUNTIME_GROUP_ROLE, type MigrateResult } from '../../../src/platform/db/migrate.ts'
import { createEmptyDatabase, runtimeRole } from '../../helpers/database.ts'
import { waitFor } from '../../helpers/wait.ts'
import type { Teardown } from '../../helpers/app.ts'

const db = await createEmptyDatabase()
t.teardown(() => db.drop())
const owner = createSql(db.ownerUrl, { max: 1 })
t.teardown(() => owner.end())
const files = await listMigrations()

async function migrateOnce (): Promise<MigrateResult> {
  return await migrate({ ownerUrl: db.ownerUrl, runtimeUrl: db.runtimeUrl, statementTimeoutMs: 30_000 })
}

t.test('two concurrent migrate runs on an empty database apply each migration once', async tt => {
  tt.ok(files.length > 0, 'there are migrations to apply')
  const [tableBefore] = await owner`select to_regclass('public.schema_migrations') as name`
  tt.equal(tableBefore?.name, null, 'the database starts empty')

  const results = await Promise.all([migrateOnce(), migrateOnce()])

  const applied = results.flatMap(result => result.applied).sort()
  tt.same(applied, files, 'between them the two runs applied every file exactly once')
  tt.ok(results.some(result => result.applied.length === 0 && result.skipped === files.length),
    'the run that waited for the lock found everything applied')

  const recorded = await owner<{ name: string, times: number }[]>`
    select name, count(*)::int as times from schema_migrations group by name order by name`
  tt.same(recorded.map(row => row.name), files, 'every migration is recorded')
  tt.ok(recorded.every(row => row.times === 1), 'each exactly once')
})

t.test('the schema of the migrations exists', async tt => {
  const [outbox] = await owner`select to_regclass('public.outbox') as name`
  tt.equal(outbox?.name, 'outbox', 'the outbox table exists')
  const [uuid] = await owner<{ version: string }[]>`select substr(uuid_v7()::text, 15, 1) as version`
  tt.equal(uuid?.version, '7', 'uuid_v7() exists and makes version-7 UUIDs')
  const [tenant] = await owner`select current_tenant_id() as id`
  tt.equal(tenant?.id, null, 'current_tenant_id() exists')
})

t.test('running migrate again applies nothing', async tt => {
  const again = await migrateOnce()
  tt.same(again, { applied: [], skipped: files.length })
  const [count] = await owner<{ n: number }[]>`select count(*)::int as n from schema_migrations`
  tt.equal(count?.n, files.length)
})

t.test('the runtime role is not privileged and owns nothing, so row-level security binds it', async tt => {
  const [role] = await owner<{ rolsuper: boolean, rolbypassrls: boolean, rolcanlogin: boolean, member: boolean }[]>`
    select rolsuper, rolbypassrls, rolcanlogin, pg_has_role(rolname, ${RUNTIME_GROUP_ROLE}, 'member') as member
    from pg_roles where rolname = ${runtimeRole}`
  tt.same(role, { rolsuper: false, rolbypassrls: false, rolcanlogin: true, member: true })

  const owned = await owner<{ relname: string }[]>`
    select c.relname from pg_class c join pg_roles r on r.oid = c.relowner
    where r.rolname in (${runtimeRole}, ${RUNTIME_GROUP_ROLE})`
  tt.same(owned, [], 'no table, view, sequence or index in the database belongs to the runtime role')

  const ownedByOwner = await owner`select 1 from pg_class where relname = 'outbox' and relowner = (select oid from pg_roles where rolname = ${OWNER_ROLE})`
  tt.equal(ownedByOwner.length, 1, `${OWNER_ROLE} owns the tables (the query above can see ownership)`)

  const runtime = createSql(db.runtimeUrl, { max: 1 })
  tt.teardown(() => runtime.end())
  const [whoami] = await runtime<{ user: string }[]>`select current_user as user`
  tt.equal(whoami?.user, runtimeRole, 'the runtime URL connects as the runtime role')
  await tt.rejects(runtime`create table intruder (id int)`, { code: '42501' }, 'the runtime role cannot create tables')
})

t.test('a failing migration leaves the database as it was: nothing of the run is applied or recorded', async tt => {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-migrations-'))
  tt.teardown(() => rm(dir, { recursive: true, force: true }))
  await cp(migrationsDir, dir, { recursive: true })
  await writeFile(join(dir, '9998_good.sql'), 'create table half_written (id int);\n')
  await writeFile(join(dir, '9999_broken.sql'), 'insert into half_written values (1);\nselect no_such_function();\n')

  await tt.rejects(migrate({ ownerUrl: db.ownerUrl, runtimeUrl: db.runtimeUrl, dir }), /no_such_function/, 'the run fails')
  const [table] = await owner`select to_regclass('public.half_written') as name`
  tt.equal(table?.name, null, 'the earlier file of the same run is rolled back too')
  const recorded = await owner<{ name: string }[]>`select name from schema_migrations where name like '999%'`
  tt.same(recorded, [], 'neither file is recorded')
  tt.same((await migrateOnce()).applied, [], 'the project migrations are still all applied')
})

/** What in schema public (relations, routines, types, the schema itself) belongs to the connecting role. */
async function ownedByConnectingRole (sql: typeof owner): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`
    select c.relname::text as name from pg_class c where c.relnamespace = 'public'::regnamespace and c.relowner = (select oid from pg_roles where rolname = current_user)
    union all
    select p.oid::regprocedure::text from pg_proc p where p.pronamespace = 'public'::regnamespace and p.proowner = (select oid from pg_roles where rolname = current_user)
    union all
    select t.typname::text from pg_type t where t.typnamespace = 'public'::regnamespace and t.typowner = (select oid from pg_roles where rolname = current_user)
    union all
    select n.nspname::text from pg_namespace n where n.nspname = 'public' and n.nspowner = (select oid from pg_roles where rolname = current_user)
    order by 1`
  return rows.map(row => row.name)
}

t.test('a database migrated as the admin before the owner role existed is handed over to it in place', async tt => {
  const legacy = await createEmptyDatabase()
  tt.teardown(() => legacy.drop())
  const admin = createSql(legacy.ownerUrl, { max: 1 })
  tt.teardown(() => admin.end())

  // what the runner did before: every file as the connecting superuser, TEMP granted to the runtime
  const before = files.filter(file => file < '0011')
  await admin`create table schema_migrations (name text primary key, applied_at timestamptz not null default now())`
  for (const file of before) {
    await admin.unsafe(await readFile(join(migrationsDir, file), 'utf8')).simple()
    await admin`insert into schema_migrations (name) values (${file})`
  }
  await admin.unsafe(`grant connect, temporary on database ${legacy.name} to ${RUNTIME_GROUP_ROLE}`)
  tt.ok((await ownedByConnectingRole(admin)).includes('outbox'), 'the superuser owns the tables to begin with')

  const result = await migrate({ ownerUrl: legacy.ownerUrl, runtimeUrl: legacy.runtimeUrl, statementTimeoutMs: 30_000 })
  tt.same(result.applied, files.filter(file => file >= '0011'), 'only the newer files are applied')

  tt.same(await ownedByConnectingRole(admin), [], 'the admin owns nothing in public any more')
  const owners = await admin<{ owner: string }[]>`
    select distinct r.rolname as owner from pg_class c join pg_roles r on r.oid = c.relowner
    where c.relnamespace = 'public'::regnamespace
    union select distinct r.rolname from pg_proc p join pg_roles r on r.oid = p.proowner where p.pronamespace = 'public'::regnamespace`
  tt.same(owners.map(row => row.owner), [OWNER_ROLE], `${OWNER_ROLE} owns every relation and function`)
  const [temp] = await admin<{ temp: boolean }[]>`select has_database_privilege(${runtimeRole}, current_database(), 'TEMP') as temp`
  tt.equal(temp?.temp, false, 'the runtime role lost TEMP')

  // the definer functions, now run as the owner role, still see every tenant's rows of the user
  const [user] = await admin<{ id: string }[]>`insert into users (email, name, password_hash) values ('legacy@example.test', 'L', 'x') returning id`
  const [tenant] = await admin<{ id: string }[]>`insert into tenants (slug, name) values ('legacy', 'Legacy') returning id`
  await admin`insert into memberships (tenant_id, user_id, role) values (${tenant?.id ?? null}, ${user?.id ?? null}, 'owner')`
  const runtime = createSql(legacy.runtimeUrl, { max: 1 })
  tt.teardown(() => runtime.end())
  const rows = await runtime<{ slug: string }[]>`select slug from user_memberships(${user?.id ?? null})`
  tt.same(rows.map(row => row.slug), ['legacy'])
  const [hidden] = await runtime<{ n: number }[]>`select count(*)::int as n from memberships`
  tt.equal(hidden?.n, 0, 'row-level security still binds the runtime role')
})

/** a scratch copy of the project's migrations, removed when the test ends */
async function scratchMigrations (tt: Teardown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-migrations-'))
  tt.teardown(() => rm(dir, { recursive: true, force: true }))
  await cp(migrationsDir, dir, { recursive: true })
  return dir
}

const recordedChecksums = async () => await owner<Array<{ name: string, checksum: string | null }>>`
  select name, checksum from schema_migrations where name not like '999%' order by name`

t.test('each applied file is recorded with the sha256 of its content', async tt => {
  const expected = await Promise.all(files.map(async name => ({ name, checksum: checksumOf(await readFile(join(migrationsDir, name), 'utf8')) })))
  tt.same(await recordedChecksums(), expected)
})

t.test('an applied migration edited afterwards stops migrate, naming the file; nothing of the run is applied', async tt => {
  const dir = await scratchMigrations(tt)
  const edited = files[Math.floor(files.length / 2)] as string
  const text = await readFile(join(dir, edited), 'utf8')
  await writeFile(join(dir, edited), `${text}\n-- an afterthought\n`)
  await writeFile(join(dir, '9997_pending.sql'), 'create table pending_behind_a_changed_file (id int);\n')
  const before = await recordedChecksums()

  const error = await migrate({ ownerUrl: db.ownerUrl, runtimeUrl: db.runtimeUrl, dir }).then(() => undefined, (e: unknown) => e)
  tt.type(error, ChangedMigrationError)
  tt.match((error as Error).message, new RegExp(`^${edited} was changed after it was applied \\(sha256 [0-9a-f]{12}… when applied, [0-9a-f]{12}… now\\): restore it and put the change in a new migration file$`))
  const [pending] = await owner`select to_regclass('public.pending_behind_a_changed_file') as name`
  tt.equal(pending?.name, null, 'the pending file is not applied')
  tt.same(await recordedChecksums(), before, 'the recorded checksums are unchanged')

  await writeFile(join(dir, edited), text)
  await rm(join(dir, '9997_pending.sql'))
  tt.same((await migrate({ ownerUrl: db.ownerUrl, runtimeUrl: db.runtimeUrl, dir })).applied, [], 'with the file restored, migrate passes')
})

t.test('a database migrated before checksums were kept gets them on its first run, then is checked like any other', async tt => {
  await owner`alter table schema_migrations drop column checksum`
  const messages: string[] = []
  const result = await migrate({ ownerUrl: db.ownerUrl, runtimeUrl: db.runtimeUrl, log: m => messages.push(m) })
  tt.same(result.applied, [], 'nothing to apply')
  tt.ok(messages.includes(`recorded the checksums of ${files.length} migration(s) applied before checksums were kept`), messages.join('; '))
  tt.ok((await recordedChecksums()).every(row => row.checksum !== null && /^[0-9a-f]{64}$/.test(row.checksum)), 'every row has a checksum')

  const dir = await scratchMigrations(tt)
  await writeFile(join(dir, files[0] as string), '-- rewritten\n')
  await tt.rejects(migrate({ ownerUrl: db.ownerUrl, runtimeUrl: db.runtimeUrl, dir }), new RegExp(`^${files[0] as string} was changed`))
})

t.test('aborting a run in the middle of a file rolls the whole run back and ends its session', async tt => {
  const dir = await scratchMigrations(tt)
  await writeFile(join(dir, '9996_slow.sql'), 'create table interrupted_half (id int);\nselect pg_sleep(60);\n')
  const stop = new AbortController()
  const run = migrate({ ownerUrl: db.ownerUrl, runtimeUrl: db.runtimeUrl, dir, signal: stop.signal })
  const sessions = async () => await owner<Array<{ sleeping: boolean }>>`
    select query like '%pg_sleep%' as sleeping from pg_stat_activity
    where datname = ${db.name} and application_name = 'atrium-migrate'`
  await waitFor('the run to reach the slow file', async () => (await sessions()).some(s => s.sleeping))
  stop.abort()
  await tt.rejects(run, MigrationInterrupted)
  await waitFor('the run\'s session to end', async () => (await sessions()).length === 0)
  const [table] = await owner`select to_regclass('public.interrupted_half') as name`
  tt.equal(table?.name, null, 'what the file had done is rolled back')
  const recorded = await owner`select name from schema_migrations where name like '999%'`
  tt.same(recorded, [], 'nothing recorded')
})
