import t from 'tap'
import { buildTestApp } from './helpers/app.ts'
import { startPrivateRedis } from './helpers/redis-server.ts'
import { withSql } from './helpers/sql.ts'
import { bearer, createTenant, relaxedAuthLimits } from './helpers/tenants.ts'
import { waitFor } from './helpers/wait.ts'

// Cached memberships are dropped on every instance through Redis pub/sub. A message sent while
// Redis is away is lost, so when the subscriber reconnects every cache is cleared (resync).
const redis = await startPrivateRedis(t)
const { app, db } = await buildTestApp(t, { env: { ...relaxedAuthLimits, REDIS_URL: redis.url } })
const tenant = await createTenant(app)
const asViewer = () => app.inject({ method: 'GET', url: '/v1/tenant', headers: bearer(tenant.viewer.token) })

t.test('after a Redis outage, caches are cleared: a change made meanwhile is seen at once, not after the TTL', async tt => {
  tt.equal((await asViewer()).statusCode, 200, 'the viewer is a member, and its membership is now cached')

  await redis.stop()
  // removed behind the app's back while no invalidation can travel
  await withSql(db.ownerUrl, sql => sql`delete from memberships where tenant_id = ${tenant.id} and user_id = ${tenant.viewer.id}`)
  tt.equal((await asViewer()).statusCode, 200, 'while Redis is away the cached membership still answers (expected: caches expire by TTL, 60 s)')

  await redis.start()
  const lockedOut = await waitFor('the removed member to be refused once Redis is back', async () => (await asViewer()).statusCode === 404, 5_000)
  tt.ok(lockedOut, 'the reconnect cleared the caches: the removed member gets 404 tenant_not_found well before the TTL')
  tt.equal((await asViewer()).json().code, 'tenant_not_found')
})
