import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { clientOf } from '../../helpers/http.ts'
import { withSql } from '../../helpers/sql.ts'
import { createTenant, relaxedAuthLimits } from '../../helpers/tenants.ts'

/**
 * The keyset pages keep their generic plan (src/platform/db/database.ts, "Plans that do not depend
 * on their values"): planned on every call, they cost about twice as much in PostgreSQL. What
 * makes PostgreSQL plan them again is a skewed tenant (its row count unlike the average, which
 * the generic plan assumes), so the data here has one: a large tenant beside a small one, with
 * statistics, its articles by two authors. On the code before, the first page and the status
 * filter were planned on every call (8 of 8); page 5 and the author filter kept their plan even
 * then on this data, and are held to it here as well. The app gets one pooled connection, whose pg_prepared_statements then tells how
 * each statement was planned.
 */
const { app, db } = await buildTestApp(t, { env: { ...relaxedAuthLimits, DATABASE_POOL_MAX: '1' } })
const large = await createTenant(app)
const small = await createTenant(app)

await withSql(db.ownerUrl, async sql => {
  for (const [tenant, count] of [[large, 3000], [small, 30]] as const) {
    await sql`
      insert into articles (tenant_id, author_id, title, body, tags, created_at)
      select ${tenant.id}, case when n % 2 = 0 then ${tenant.editor.id}::uuid else ${tenant.owner.id}::uuid end,
        'Article ' || n, 'body', array['tag-' || (n % 5)], now() - n * interval '1 minute'
      from generate_series(1, ${count}) n`
  }
  await sql`analyze articles`
})

interface PlanCounts { statement: string, generic_plans: string, custom_plans: string }

/** how the one pooled connection has planned each of its prepared pages (a read with a limit) of `table` */
async function plansOf (table: string): Promise<Array<{ statement: string, generic: number, custom: number }>> {
  const rows = await app.sql<PlanCounts[]>`
    select statement, generic_plans::text, custom_plans::text from pg_prepared_statements
    where statement like ${`%from ${table} %`} and statement like '%limit%'`
  return rows.map(row => ({ statement: row.statement, generic: Number(row.generic_plans), custom: Number(row.custom_plans) }))
}

const GET_TIMES = 8

t.test('the article list, its page 5 and its status and author filters: planned five times, then the generic plan is kept', async tt => {
  const client = clientOf(app, large.owner.token)
  let cursor = ''
  for (let page = 1; page < 5; page++) {
    const response = await client.get(`/v1/articles?limit=20${page === 1 ? '' : `&cursor=${cursor}`}`)
    tt.equal(response.statusCode, 200)
    cursor = (response.json() as { next_cursor: string }).next_cursor
  }
  const urls = [
    '/v1/articles?limit=20',
    `/v1/articles?limit=20&cursor=${cursor}`,
    '/v1/articles?limit=20&status=draft',
    `/v1/articles?limit=20&author_id=${large.editor.id}`
  ]
  for (const url of urls) {
    for (let i = 0; i < GET_TIMES; i++) {
      const response = await client.get(url)
      tt.equal(response.statusCode, 200, url)
    }
  }
  const plans = await plansOf('articles a')
  tt.equal(plans.length, urls.length, 'one prepared statement per combination')
  for (const plan of plans) {
    tt.equal(plan.custom, 5, `planned for its first five calls only: ${plan.statement}`)
    tt.ok(plan.generic >= GET_TIMES - 5, 'then its generic plan ran')
  }
})

t.test('the small tenant reads through the same kept plans, and sees its own articles only', async tt => {
  const response = await clientOf(app, small.owner.token).get('/v1/articles?limit=100')
  tt.equal(response.statusCode, 200)
  const { data } = response.json() as { data: Array<{ title: string }> }
  tt.equal(data.length, 30)
})
