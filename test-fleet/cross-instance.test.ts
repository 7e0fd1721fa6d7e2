import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { withSql } from '../test/helpers/sql.ts'
import { bearer, PASSWORD } from '../test/helpers/users.ts'
import { accessToken, addMember, createTenant, register } from './helpers/accounts.ts'
import { expectStatus, send } from './helpers/client.ts'
import { startFleet } from './helpers/fleet.ts'
import { pollUntil } from './helpers/poll.ts'
import { callsBetween, commandCalls, total } from './helpers/redis-stats.ts'

/** API.md: a flag change takes effect on every instance within 5 s; the same bound for the caches. */
const WITHIN_MS = 5_000
const PER_IP = 30
const PER_EMAIL = 5

const fleet = await startFleet(t, { authLimitPerIp: PER_IP, env: { AUTH_RATE_LIMIT_PER_EMAIL: String(PER_EMAIL) } })
const [one, other] = fleet.apis
const viaNginx = fleet.nginx.url
const tenant = await createTenant(viaNginx)

/**
 * A change made through `one`, then polled on both instances directly until each enforces it:
 * `before` must hold on both first (their caches warm), `after` on both within 5 s.
 */
async function acrossInstances (tt: Test, what: string, check: (baseUrl: string) => Promise<'before' | 'after' | 'neither'>, change: () => Promise<void>): Promise<void> {
  for (const api of fleet.apis) tt.equal(await check(api.url), 'before', `${what}: ${api.name} answers as before the change (its caches warm)`)
  await change()
  const since = Date.now()
  const figures: string[] = []
  for (const api of fleet.apis) {
    const enforced = await pollUntil(async () => await check(api.url) === 'after', since, WITHIN_MS)
    tt.ok(enforced.afterMs !== undefined, `${what}: ${api.name} enforces it within ${WITHIN_MS} ms`)
    figures.push(`${api.name} ${enforced.afterMs ?? 'never'} ms (${enforced.polls} polls)`)
  }
  tt.comment(`fleet: ${what} made on ${one.name}, enforced on ${figures.join(', ')}`)
}

t.test('a flag change through one instance is served by both within 5 s', async tt => {
  const staff = await register(viaNginx, 'Staff')
  await withSql(fleet.db.ownerUrl, sql => sql`update users set is_staff = true where id = ${staff.id}`)
  const staffToken = await accessToken(viaNginx, staff.email)
  const key = `fleet-${randomBytes(3).toString('hex')}`
  const flag = (enabled: boolean): object => ({ description: 'fleet test', enabled, internal_only: false, tenants: [tenant.id], percentage: 0 })
  await expectStatus(`${one.url}/v1/admin/flags/${key}`, 200, { method: 'PUT', headers: bearer(staffToken), body: flag(false) })
  const state = async (baseUrl: string): Promise<'before' | 'after' | 'neither'> => {
    const reply = await send(`${baseUrl}/v1/features`, { headers: bearer(tenant.owner.token) })
    const value = reply.status === 200 ? (reply.body as { features: Record<string, boolean> }).features[key] : undefined
    return value === false ? 'before' : value === true ? 'after' : 'neither'
  }
  // the flag's creation itself must reach the other instance first: that is the "before"
  const created = await pollUntil(async () => await state(other.url) === 'before', Date.now(), WITHIN_MS)
  tt.ok(created.afterMs !== undefined, 'the new flag reached the other instance')
  await acrossInstances(tt, 'flag turned on', state, async () => {
    await expectStatus(`${one.url}/v1/admin/flags/${key}`, 200, { method: 'PUT', headers: bearer(staffToken), body: flag(true) })
  })
})

t.test('a role change through one instance is enforced by both within 5 s', async tt => {
  const admin = await addMember(viaNginx, tenant, 'admin')
  // the audit log needs audit:read, admin and up: a viewer gets 403
  const state = async (baseUrl: string): Promise<'before' | 'after' | 'neither'> => {
    const { status } = await send(`${baseUrl}/v1/audit-log?limit=1`, { headers: bearer(admin.token) })
    return status === 200 ? 'before' : status === 403 ? 'after' : 'neither'
  }
  await acrossInstances(tt, 'admin demoted to viewer', state, async () => {
    await expectStatus(`${one.url}/v1/members/${admin.id}`, 200, { method: 'PATCH', headers: bearer(tenant.owner.token), body: { role: 'viewer' } })
  })
})

t.test('a member removed through one instance is refused by both within 5 s', async tt => {
  const viewer = await addMember(viaNginx, tenant, 'viewer')
  const state = async (baseUrl: string): Promise<'before' | 'after' | 'neither'> => {
    const reply = await send(`${baseUrl}/v1/articles?limit=1`, { headers: bearer(viewer.token) })
    if (reply.status === 200) return 'before'
    return reply.status === 404 && (reply.body as { code?: string }).code === 'tenant_not_found' ? 'after' : 'neither'
  }
  await acrossInstances(tt, 'member removed', state, async () => {
    await expectStatus(`${one.url}/v1/members/${viewer.id}`, 204, { method: 'DELETE', headers: bearer(tenant.owner.token) })
  })
})

t.test('a user deleted through one instance is refused by both within 5 s (the deletion job runs on a worker)', async tt => {
  const user = await addMember(viaNginx, tenant, 'editor')
  const state = async (baseUrl: string): Promise<'before' | 'after' | 'neither'> => {
    const { status } = await send(`${baseUrl}/v1/me`, { headers: bearer(user.token) })
    return status === 200 ? 'before' : status === 401 ? 'after' : 'neither'
  }
  await acrossInstances(tt, 'user deleted', state, async () => {
    await expectStatus(`${one.url}/v1/me`, 202, { method: 'DELETE', headers: bearer(user.token), body: { password: PASSWORD } })
  })
})

/** Sends attempts alternately to each instance until one answers 429; the answers before it. */
async function attemptsUntilLimited (tt: Test, what: string, attempt: (baseUrl: string, n: number) => Promise<number>, limit: number): Promise<void> {
  const statuses: number[] = []
  const served = new Map<string, number>()
  let limited: { status: number } | undefined
  for (let n = 0; n < limit + 3 && limited === undefined; n++) {
    const api = fleet.apis[n % 2]!
    const status = await attempt(api.url, n)
    if (status === 429) limited = { status }
    else statuses.push(status)
    served.set(api.name, (served.get(api.name) ?? 0) + 1)
  }
  tt.equal(statuses.length, limit, `${what}: exactly ${limit} attempts answered before the 429, counted across both instances`)
  tt.same([...new Set(statuses)], [401], `${what}: each of them a 401`)
  tt.ok(limited, `${what}: then 429 rate_limited`)
  tt.comment(`fleet: ${what}: ${statuses.length} attempts answered 401 (${[...served].map(([name, n]) => `${n} sent to ${name}`).join(', ')}), then 429`)
}

t.test('the auth rate limits count attempts sent to both instances', async tt => {
  const victim = await register(viaNginx, 'Victim')
  // each check from an address of its own (TRUST_PROXY: the instances believe 127.0.0.1's X-Forwarded-For)
  await attemptsUntilLimited(tt, `per email (AUTH_RATE_LIMIT_PER_EMAIL=${PER_EMAIL})`, async (baseUrl, n) => (await send(`${baseUrl}/v1/auth/login`, {
    method: 'POST', headers: { 'x-forwarded-for': `203.0.113.${n + 1}` }, body: { email: victim.email, password: 'not the password at all' }
  })).status, PER_EMAIL)
  await attemptsUntilLimited(tt, `per IP (AUTH_RATE_LIMIT_PER_IP=${PER_IP})`, async (baseUrl, n) => (await send(`${baseUrl}/v1/auth/login`, {
    method: 'POST', headers: { 'x-forwarded-for': '198.51.100.9' }, body: { email: `nobody-${n}@example.test`, password: 'not the password at all' }
  })).status, PER_IP)
  const limited = await send(`${other.url}/v1/auth/login`, {
    method: 'POST', headers: { 'x-forwarded-for': '198.51.100.9' }, body: { email: 'someone@example.test', password: 'not the password at all' }
  })
  tt.match(limited, { status: 429, body: { code: 'rate_limited' } }, 'the limited address is refused on the other instance too')
  if ('headers' in limited) tt.match(limited.headers.get('retry-after'), /^\d+$/, 'with Retry-After')
})

t.test('Redis commands per request on a warm instance (figures for docs/SCALING.md)', async tt => {
  const N = 200
  const editor = await addMember(viaNginx, tenant, 'editor')
  const { article } = await expectStatus<{ article: { id: string } }>(`${one.url}/v1/articles`, 201, {
    method: 'POST', headers: bearer(editor.token), body: { title: 'redis figures' }
  })
  const kinds: Array<[string, (n: number) => Promise<number>]> = [
    ['GET /v1/articles/:id', async () => (await send(`${one.url}/v1/articles/${article.id}`, { headers: bearer(editor.token) })).status],
    ['GET /v1/articles?limit=20', async () => (await send(`${one.url}/v1/articles?limit=20`, { headers: bearer(editor.token) })).status],
    ['POST /v1/articles', async n => (await send(`${one.url}/v1/articles`, { method: 'POST', headers: bearer(editor.token), body: { title: `redis-${n}` } })).status],
    ['idle (no request, same time)', async () => { await new Promise(resolve => setTimeout(resolve, 5)); return 200 }]
  ]
  const figures: string[] = []
  for (const [kind, request] of kinds) {
    for (let n = 0; n < 5; n++) await request(-1 - n) // warm the caches
    const before = await commandCalls(fleet.redis.url)
    const statuses = new Set<number>()
    for (let n = 0; n < N; n++) statuses.add(await request(n))
    const calls = callsBetween(before, await commandCalls(fleet.redis.url))
    tt.ok([...statuses].every(s => s < 300), `${kind}: ${N} requests answered 2xx`)
    figures.push(`${kind}: ${(total(calls) / N).toFixed(2)} commands a request (${calls.slice(0, 4).map(([c, k]) => `${c} ${k}`).join(', ') || 'none'})`)
  }
  tt.comment(`fleet: redis commands, ${N} requests each on one warm instance, the whole fleet's traffic counted: ${figures.join('; ')}`)
})
