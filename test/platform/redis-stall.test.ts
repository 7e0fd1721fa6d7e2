import t from 'tap'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildTestApp } from '../helpers/app.ts'
import { clientOf } from '../helpers/http.ts'
import { startPrivateRedis } from '../helpers/redis-server.ts'
import { withSql } from '../helpers/sql.ts'
import { createTenant, relaxedAuthLimits } from '../helpers/tenants.ts'

// A write commits, then publishes cache invalidations to Redis. A Redis that is connected but
// answers nothing (SIGSTOP) must not turn the committed change into a 503: the wait is bounded.
const redis = await startPrivateRedis(t)
const { app, db } = await buildTestApp(t, { env: { ...relaxedAuthLimits, REDIS_URL: redis.url } })
const tenant = await createTenant(app)
const owner = clientOf(app, tenant.owner.token)
const ANSWER_WITHIN_MS = 10_000

/** The response, or a thrown error when none comes in time: a hung request fails the test quickly. */
async function answered<T> (what: string, response: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ANSWER_WITHIN_MS} ms`)), ANSWER_WITHIN_MS)
  })
  try {
    return await Promise.race([response, late])
  } finally {
    clearTimeout(timer)
  }
}

t.test('with Redis hung, committed writes still answer their success status, and the change is stored', async tt => {
  for (let wait = 0; app.redis.status !== 'ready' && wait < 100; wait++) await sleep(50)
  tt.equal(app.redis.status, 'ready', 'the app is connected before the stall')
  redis.pause()
  tt.teardown(() => { if (redis.running) redis.resume() })

  const slug = `stall-${randomBytes(4).toString('hex')}`
  const created = await answered('POST /v1/tenants', owner.post('/v1/tenants', { slug, name: 'Created while Redis hangs' }))
  tt.equal(created.statusCode, 201, `POST /v1/tenants: ${created.body}`)
  const [row] = await withSql(db.ownerUrl, sql => sql<Array<{ slug: string }>>`select slug from tenants where slug = ${slug}`)
  tt.equal(row?.slug, slug, 'the tenant is committed')

  const removed = await answered('DELETE /v1/members/:id', owner.delete(`/v1/members/${tenant.viewer.id}`))
  tt.equal(removed.statusCode, 204, `DELETE /v1/members/:id: ${removed.body}`)
  const viewers = await withSql(db.ownerUrl, sql => sql`select 1 from memberships where tenant_id = ${tenant.id} and user_id = ${tenant.viewer.id}`)
  tt.equal(viewers.length, 0, 'the removal is committed')

  redis.resume()
})
