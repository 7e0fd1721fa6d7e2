import t from 'tap'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildTestApp } from '../../helpers/app.ts'
import { startPrivateRedis } from '../../helpers/redis-server.ts'
import { bearer, PASSWORD, registerUser } from '../../helpers/users.ts'

// default limits: 10 a minute per IP, 5 a minute per email
const { app, config } = await buildTestApp(t)

const uniqueEmail = () => `rl-${randomBytes(5).toString('hex')}@example.test`
let nextAddress = 1
/** a client address of its own, so one test's counts do not reach another's */
const freshIp = () => `10.1.0.${nextAddress++}`

function login (ip: string, email: string, password = 'a wrong password') {
  return app.inject({ method: 'POST', url: '/v1/auth/login', remoteAddress: ip, payload: { email, password } })
}

t.test('the defaults are the documented ones', async tt => {
  tt.equal(config.AUTH_RATE_LIMIT_PER_IP, 10)
  tt.equal(config.AUTH_RATE_LIMIT_PER_EMAIL, 5)
})

t.test('the 11th login from one IP within a minute is 429 rate_limited with Retry-After', async tt => {
  const ip = freshIp()
  for (let attempt = 1; attempt <= 10; attempt++) {
    tt.equal((await login(ip, uniqueEmail())).statusCode, 401, `attempt ${attempt} is answered`)
  }
  const limited = await login(ip, uniqueEmail())
  tt.equal(limited.statusCode, 429)
  tt.match(limited.headers['content-type'], /^application\/problem\+json/)
  const body = limited.json()
  tt.equal(body.code, 'rate_limited')
  tt.equal(body.status, 429)
  tt.equal(body.request_id, limited.headers['x-request-id'])
  const retryAfter = Number(limited.headers['retry-after'])
  tt.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${String(limited.headers['retry-after'])}`)
  tt.equal(limited.headers['cache-control'], 'no-store')
  tt.equal((await login(freshIp(), uniqueEmail())).statusCode, 401, 'another IP is not limited')
})

t.test('the 6th login for one email within a minute is 429, from whatever IP', async tt => {
  const email = uniqueEmail()
  for (let attempt = 1; attempt <= 5; attempt++) {
    tt.equal((await login(freshIp(), email)).statusCode, 401, `attempt ${attempt} is answered`)
  }
  const limited = await login(freshIp(), email.toUpperCase())
  tt.equal(limited.statusCode, 429, 'the email counts case-insensitively')
  tt.equal(limited.json().code, 'rate_limited')
  tt.ok(Number(limited.headers['retry-after']) >= 1)
  tt.equal((await login(freshIp(), uniqueEmail())).statusCode, 401, 'another email is not limited')
})

t.test('a limited client is refused even with the right password', async tt => {
  const user = await registerUser(app)
  for (let attempt = 1; attempt <= 5; attempt++) await login(freshIp(), user.email)
  tt.equal((await login(freshIp(), user.email, user.password)).statusCode, 429)
})

t.test('register is limited per IP too (11th) and counts apart from login', async tt => {
  const ip = freshIp()
  for (let attempt = 1; attempt <= 10; attempt++) {
    const response = await app.inject({ method: 'POST', url: '/v1/auth/register', remoteAddress: ip, payload: { email: uniqueEmail(), password: PASSWORD, name: 'R' } })
    tt.equal(response.statusCode, 201, `register ${attempt}`)
  }
  const limited = await app.inject({ method: 'POST', url: '/v1/auth/register', remoteAddress: ip, payload: { email: uniqueEmail(), password: PASSWORD, name: 'R' } })
  tt.equal(limited.statusCode, 429)
  tt.equal(limited.json().code, 'rate_limited')
  tt.equal((await login(ip, uniqueEmail())).statusCode, 401, 'login from that IP still has its own count')
})

/** A user registered and logged in from addresses of their own, with its access token. */
async function signedIn (): Promise<{ id: string, email: string, token: string }> {
  const email = uniqueEmail()
  const registered = await app.inject({ method: 'POST', url: '/v1/auth/register', remoteAddress: freshIp(), payload: { email, password: PASSWORD, name: 'D' } })
  must(registered.statusCode === 201, `register: ${registered.statusCode}`)
  const loggedIn = await login(freshIp(), email, PASSWORD)
  must(loggedIn.statusCode === 200, `login: ${loggedIn.statusCode}`)
  return { id: registered.json().user.id as string, email, token: loggedIn.json().access_token as string }
}
function must (ok: boolean, what: string): void {
  if (!ok) throw new Error(what)
}
const deleteMe = (ip: string, token: string, password = 'a wrong password') =>
  app.inject({ method: 'DELETE', url: '/v1/me', remoteAddress: ip, headers: bearer(token), payload: { password } })

t.test('DELETE /v1/me is limited like login: the 6th password attempt for one user within a minute is 429, from whatever IP', async tt => {
  const user = await signedIn()
  for (let attempt = 1; attempt <= 5; attempt++) {
    tt.equal((await deleteMe(freshIp(), user.token)).statusCode, 403, `wrong password ${attempt} is answered`)
  }
  const limited = await deleteMe(freshIp(), user.token, PASSWORD)
  tt.equal(limited.statusCode, 429, 'refused even with the right password')
  tt.match(limited.headers['content-type'], /^application\/problem\+json/)
  tt.equal(limited.json().code, 'rate_limited')
  const retryAfter = Number(limited.headers['retry-after'])
  tt.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${String(limited.headers['retry-after'])}`)
  tt.equal((await app.inject({ method: 'GET', url: '/v1/me', headers: bearer(user.token) })).statusCode, 200, 'the account is untouched')
  tt.equal((await deleteMe(freshIp(), (await signedIn()).token)).statusCode, 403, 'another user is not limited')
})

t.test('DELETE /v1/me is limited per IP too: the 11th attempt from one IP within a minute is 429', async tt => {
  const ip = freshIp()
  for (let attempt = 1; attempt <= 10; attempt++) {
    tt.equal((await deleteMe(ip, (await signedIn()).token)).statusCode, 403, `attempt ${attempt} is answered`)
  }
  const limited = await deleteMe(ip, (await signedIn()).token)
  tt.equal(limited.statusCode, 429)
  tt.equal(limited.json().code, 'rate_limited')
  tt.ok(Number(limited.headers['retry-after']) >= 1)
  tt.equal((await login(ip, uniqueEmail())).statusCode, 401, 'login from that IP still has its own count')
})

t.test('with Redis down or hung, the limiter fails open: logins are answered, never 429 or 5xx', async tt => {
  const redis = await startPrivateRedis(tt)
  const { app: isolated, logs } = await buildTestApp(tt, { env: { REDIS_URL: redis.url, AUTH_RATE_LIMIT_PER_IP: '2', AUTH_RATE_LIMIT_PER_EMAIL: '2' } })
  const attempt = () => isolated.inject({ method: 'POST', url: '/v1/auth/login', remoteAddress: '10.2.0.1', payload: { email: 'same@example.test', password: 'a wrong password' } })

  tt.same([(await attempt()).statusCode, (await attempt()).statusCode, (await attempt()).statusCode], [401, 401, 429], 'limits apply while Redis is up')

  await redis.stop()
  const whileDown = []
  for (let i = 0; i < 4; i++) whileDown.push((await attempt()).statusCode)
  tt.same(whileDown, [401, 401, 401, 401])
  tt.ok(logs.some(l => l.msg === 'auth rate limit skipped: Redis unavailable'), 'the skip is logged')

  await redis.start()
  for (let wait = 0; isolated.redis.status !== 'ready' && wait < 100; wait++) await sleep(50)
  tt.equal(isolated.redis.status, 'ready', 'the app is connected again')
  redis.pause()
  const whileHung = await attempt()
  redis.resume()
  tt.equal(whileHung.statusCode, 401, 'a hung Redis does not hold the request')
  tt.ok(logs.some(l => l.msg === 'auth rate limit skipped: Redis did not answer in time'), 'the skip is logged')
})
