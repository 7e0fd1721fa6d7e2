import t from 'tap'
import { createSql } from '../../../src/platform/db/client.ts'
import { Database, tenantStatement } from '../../../src/platform/db/database.ts'
import { createLogger } from '../../../src/platform/logger.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { createTenant, relaxedAuthLimits } from '../../helpers/tenants.ts'
import { bearer } from '../../helpers/users.ts'

// Row-level security on its own: queries that name another tenant's ids directly, with no
// service-level scoping at all, as the runtime role the app connects as.
const { app, db } = await buildTestApp(t, { env: relaxedAuthLimits })
const tenantA = await createTenant(app)
const tenantB = await createTenant(app)
const created = await app.inject({ method: 'POST', url: '/v1/articles', headers: bearer(tenantA.editor.token), payload: { title: 'A secret' } })
t.equal(created.statusCode, 201)
const articleA = (created.json() as { article: { id: string } }).article.id

const runtimeSql = createSql(db.runtimeUrl, { max: 2 })
const ownerSql = createSql(db.ownerUrl, { max: 1 })
t.teardown(() => ownerSql.end())
const database = new Database(runtimeSql, { log: createLogger({ LOG_LEVEL: 'silent' }), slowQueryMs: 10_000, lockTimeoutMs: 1_000, defaultBudgetMs: 5_000 })
t.teardown(() => runtimeSql.end())

const tenantTables = ['memberships', 'articles', 'audit_log'] as const

t.test("inside withTenant(B), naming A's ids directly returns nothing", async tt => {
  const rows = await database.transaction(tenantB.id, tx => tx`select id from articles where tenant_id = ${tenantA.id} and id = ${articleA}`)
  tt.same(rows, [], "A's article is invisible")
  for (const table of tenantTables) {
    const [row] = await database.transaction(tenantB.id, tx => tx<Array<{ n: number }>>`select count(*)::int as n from ${tx(table)} where tenant_id = ${tenantA.id}`)
    tt.equal(row?.n, 0, `no ${table} rows of A`)
  }
  const [own] = await database.transaction(tenantB.id, tx => tx<Array<{ n: number }>>`select count(*)::int as n from memberships`)
  tt.equal(own?.n, 4, "B's own four members are visible")
})

t.test('with no tenant set, tenant tables return nothing', async tt => {
  for (const table of tenantTables) {
    const [row] = await runtimeSql<Array<{ n: number }>>`select count(*)::int as n from ${runtimeSql(table)}`
    tt.equal(row?.n, 0, `${table} is empty without a tenant`)
  }
})

t.test('writing a row for A while scoped to B is refused by the policy', async tt => {
  await tt.rejects(
    database.transaction(tenantB.id, tx => tx`insert into articles (tenant_id, author_id, title) values (${tenantA.id}, ${tenantB.editor.id}, 'smuggled')`),
    { code: '42501' }
  )
  await tt.rejects(
    database.transaction(tenantB.id, tx => tx`update articles set title = 'defaced' where tenant_id = ${tenantA.id}`).then(r => {
      if (r.count === 0) throw Object.assign(new Error('no rows'), { code: '42501' })
    }),
    { code: '42501' },
    'an update of A from B touches no row'
  )
})

t.test('a scoped read applies RLS to the tenant it is given only', async tt => {
  const rows = await database.read('test', tenantB.id, sql => sql`select id from articles where tenant_id = ${tenantA.id} and id = ${articleA}`)
  tt.same(rows, [])
  const own = await database.read('test', tenantA.id, sql => sql`select id from articles where tenant_id = ${tenantA.id} and id = ${articleA}`)
  tt.equal(own.length, 1)
})

t.test('a scoped read sets the tenant before it reads: with no filter of its own it sees that tenant\'s rows, all of them', async tt => {
  for (const table of tenantTables) {
    const [owner] = await ownerSql<Array<{ n: number }>>`select count(*)::int as n from ${ownerSql(table)} where tenant_id = ${tenantA.id}`
    const [scoped] = await database.read('test', tenantA.id, sql => sql<Array<{ n: number }>>`select count(*)::int as n from ${sql(table)}`)
    tt.ok((owner?.n ?? 0) > 0, `A has ${table} rows`)
    tt.equal(scoped?.n, owner?.n, `${table}: the scoped count is A's`)
  }
  const [afterwards] = await runtimeSql<Array<{ tenant: string | null }>>`select current_setting('app.tenant_id', true) as tenant`
  tt.ok(afterwards?.tenant === null || afterwards?.tenant === '', 'the setting ends with the statement')
})

t.test('a fixed tenant statement scopes itself the same way, its own parameters after tenant and tag', async tt => {
  for (const table of tenantTables) {
    const [owner] = await ownerSql<Array<{ n: number }>>`select count(*)::int as n from ${ownerSql(table)} where tenant_id = ${tenantA.id}`
    const counted = tenantStatement<Array<{ n: number }>>('test count', `select count(*)::int as n from ${table} where $1::int = 1`)
    const [scoped] = await database.readStatement(counted, tenantA.id, [1])
    tt.equal(scoped?.n, owner?.n, `${table}: the scoped count is A's`)
    const [none] = await database.readStatement(counted, tenantA.id, [2])
    tt.equal(none?.n, 0, `${table}: the read's own $1 is its own parameter`)
  }
})

t.test('the runtime role cannot turn row-level security off', async tt => {
  await tt.rejects(runtimeSql`alter table articles disable row level security`, { code: '42501' })
  await tt.rejects(runtimeSql`set row_security = off; select count(*) from articles`.simple(), { code: '42501' }, 'row_security = off refuses to run policy-bound queries')
})
