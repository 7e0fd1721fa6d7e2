import t from 'tap'
import { createSql } from '../../../src/platform/db/client.ts'
import { OWNER_ROLE, RUNTIME_GROUP_ROLE } from '../../../src/platform/db/migrate.ts'
import { createTestDatabase, runtimeRole } from '../../helpers/database.ts'

// SECURITY DEFINER functions run as their owner. If a caller can put objects of its own ahead of
// the tables a definer function reads (temporary views in pg_temp, searched first unless the
// function's search_path lists it last), the caller's code runs as that owner.
const db = await createTestDatabase()
t.teardown(() => db.drop())
const admin = createSql(db.ownerUrl, { max: 1 })
t.teardown(() => admin.end())

const [user] = await admin<{ id: string }[]>`
  insert into users (email, name, password_hash) values ('real@example.test', 'Real', 'x') returning id`
const [tenant] = await admin<{ id: string }[]>`insert into tenants (slug, name) values ('real-tenant', 'Real') returning id`
if (!user || !tenant) throw new Error('fixtures not created')
await admin`insert into memberships (tenant_id, user_id, role) values (${tenant.id}, ${user.id}, 'owner')`

// The attack of issue 14: a pg_temp function that reports who runs it, temp views named like the
// tables user_memberships() reads, then a call of user_memberships().
const shadowing = `
  create function pg_temp.whoami() returns text language plpgsql as $f$
  begin
    return format('ran as %s, superuser=%s', current_user, (select rolsuper from pg_roles where rolname = current_user));
  end
  $f$;
  create temporary view tenants as
    select '${tenant.id}'::uuid as id, pg_temp.whoami() as slug, 'shadow'::text as name;
  create temporary view memberships as
    select '${tenant.id}'::uuid as tenant_id, '${user.id}'::uuid as user_id, 'owner'::text as role, now() as created_at;
`

t.test('as the runtime role, the shadowing attack cannot even start: no temporary objects', async tt => {
  const runtime = createSql(db.runtimeUrl, { max: 1 })
  tt.teardown(() => runtime.end())
  const [me] = await runtime<{ user: string }[]>`select current_user as user`
  tt.equal(me?.user, runtimeRole)

  await tt.rejects(runtime.unsafe(shadowing).simple(), { code: '42501' }, 'creating anything in pg_temp is refused')
  const rows = await runtime<{ slug: string }[]>`select slug from user_memberships(${user.id})`
  tt.same(rows.map(r => r.slug), ['real-tenant'], 'user_memberships reads the real tables, and no code of the caller ran')
  const [role] = await admin<{ rolsuper: boolean }[]>`select rolsuper from pg_roles where rolname = ${runtimeRole}`
  tt.equal(role?.rolsuper, false, 'the runtime role is still not a superuser')
})

t.test('a session that may create temporary objects still cannot shadow the tables of a definer function', async tt => {
  // the admin keeps TEMP: the pinned search_path alone must defeat the attack
  const session = createSql(db.ownerUrl, { max: 1 })
  tt.teardown(() => session.end())
  await session.unsafe(shadowing).simple()
  const [shadowed] = await session<{ slug: string }[]>`select slug from tenants`
  tt.match(shadowed?.slug, /^ran as /, 'the temp views do shadow the tables for the session itself')

  const rows = await session<{ slug: string }[]>`select slug from user_memberships(${user.id})`
  tt.same(rows.map(r => r.slug), ['real-tenant'], 'the definer function read public.tenants and public.memberships, not the temp views')
})

t.test('every SECURITY DEFINER function pins search_path with pg_temp last', async tt => {
  const definers = await admin<{ name: string, config: string[] | null }[]>`
    select p.oid::regprocedure::text as name, p.proconfig as config
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.prosecdef order by 1`
  tt.ok(definers.length >= 4, `the definer functions are found (${definers.map(d => d.name).join(', ')})`)
  for (const fn of definers) {
    const paths = (fn.config ?? []).filter(setting => setting.startsWith('search_path='))
    tt.same(paths, ['search_path=pg_catalog, public, pg_temp'], fn.name)
  }
})

t.test('neither the runtime group nor the login role may create temporary objects in the database', async tt => {
  for (const role of [RUNTIME_GROUP_ROLE, runtimeRole]) {
    const [row] = await admin<{ temp: boolean, connect: boolean }[]>`
      select has_database_privilege(${role}, current_database(), 'TEMP') as temp,
             has_database_privilege(${role}, current_database(), 'CONNECT') as connect`
    tt.same(row, { temp: false, connect: true }, role)
  }
})

t.test('no table, view, sequence, function or type in public belongs to a superuser', async tt => {
  const superOwned = await admin<{ kind: string, name: string, owner: string }[]>`
    select 'relation' as kind, c.relname as name, r.rolname as owner
    from pg_class c join pg_namespace n on n.oid = c.relnamespace join pg_roles r on r.oid = c.relowner
    where n.nspname = 'public' and r.rolsuper
    union all
    select 'function', p.oid::regprocedure::text, r.rolname
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace join pg_roles r on r.oid = p.proowner
    where n.nspname = 'public' and r.rolsuper
    union all
    select 'type', t.typname, r.rolname
    from pg_type t join pg_namespace n on n.oid = t.typnamespace join pg_roles r on r.oid = t.typowner
    where n.nspname = 'public' and r.rolsuper
    union all
    select 'schema', n.nspname, r.rolname
    from pg_namespace n join pg_roles r on r.oid = n.nspowner
    where n.nspname = 'public' and r.rolsuper`
  tt.same(superOwned, [], 'nothing of the schema runs or is owned with superuser rights')

  const [owner] = await admin<{ rolsuper: boolean, rolbypassrls: boolean, rolcanlogin: boolean, runtimeIsMember: boolean }[]>`
    select rolsuper, rolbypassrls, rolcanlogin, pg_has_role(${runtimeRole}, rolname, 'member') as "runtimeIsMember"
    from pg_roles where rolname = ${OWNER_ROLE}`
  tt.same(owner, { rolsuper: false, rolbypassrls: false, rolcanlogin: false, runtimeIsMember: false },
    `${OWNER_ROLE} is an unprivileged, non-login role the runtime role cannot become`)
  const [tables] = await admin<{ owner: string }[]>`
    select distinct r.rolname as owner from pg_class c join pg_roles r on r.oid = c.relowner
    where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'`
  tt.equal(tables?.owner, OWNER_ROLE, `${OWNER_ROLE} owns the tables`)
})
