import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createSql } from '../src/db/client.ts'
import { listMigrations, migrate, migrationsDir, RUNTIME_GROUP_ROLE, type MigrateResult } from '../src/db/migrate.ts'
import { createEmptyDatabase, runtimeRole } from './helpers/database.ts'

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

  const ownedByOwner = await owner`select 1 from pg_class where relname = 'outbox' and relowner = (select oid from pg_roles where rolname = current_user)`
  tt.equal(ownedByOwner.length, 1, 'the migrating owner owns the tables (the query above can see ownership)')

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
