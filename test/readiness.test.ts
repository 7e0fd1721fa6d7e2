import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildTestApp } from './helpers/app.ts'
import { startPrivateRedis } from './helpers/redis-server.ts'

const redis = await startPrivateRedis(t)
const { app } = await buildTestApp(t, { env: { REDIS_URL: redis.url } })

interface Probe { statusCode: number, contentType: unknown, body: unknown }

async function readyz (): Promise<Probe> {
  const response = await app.inject({ method: 'GET', url: '/readyz' })
  return { statusCode: response.statusCode, contentType: response.headers['content-type'], body: response.json() }
}

async function healthzStatus (): Promise<number> {
  return (await app.inject({ method: 'GET', url: '/healthz' })).statusCode
}

/** Polls /readyz every 50 ms until it answers the status, for at most timeoutMs; returns the last answer. */
async function readyzUntil (statusCode: number, timeoutMs: number): Promise<Probe & { afterMs: number }> {
  const started = Date.now()
  let last = await readyz()
  while (last.statusCode !== statusCode && Date.now() - started < timeoutMs) {
    await sleep(50)
    last = await readyz()
  }
  return { ...last, afterMs: Date.now() - started }
}

const ready = { status: 'ok', checks: { postgres: 'ok', redis: 'ok' } }

t.test('with PostgreSQL and the private Redis up, /readyz is 200 with every check ok', async tt => {
  const answer = await readyzUntil(200, 5_000)
  tt.equal(answer.statusCode, 200)
  tt.match(answer.contentType, /^application\/json/)
  tt.same(answer.body, ready)
  tt.equal(await healthzStatus(), 200)
})

t.test('a Redis that stops turns /readyz into 503 naming redis within 2 s, and it recovers', async tt => {
  await redis.stop()
  tt.notOk(redis.running, 'the private redis-server has exited')

  const down = await readyzUntil(503, 2_000)
  tt.equal(down.statusCode, 503, `503 within 2 s (after ${down.afterMs} ms)`)
  tt.ok(down.afterMs <= 2_000, 'noticed within 2 s')
  tt.match(down.contentType, /^application\/json/, 'the readiness shape, not a problem document')
  tt.same(down.body, { status: 'unavailable', checks: { postgres: 'ok', redis: 'fail' } })
  tt.equal(await healthzStatus(), 200, '/healthz stays 200 while Redis is away')

  await sleep(300)
  const stillDown = await readyz()
  tt.equal(stillDown.statusCode, 503, 'stays 503 while Redis is away')
  tt.equal(await healthzStatus(), 200)

  await redis.start()
  tt.ok(redis.running, 'the private redis-server runs again on the same port')
  const back = await readyzUntil(200, 10_000)
  tt.equal(back.statusCode, 200, `200 again without restarting the app (after ${back.afterMs} ms)`)
  tt.same(back.body, ready)
  tt.equal(await healthzStatus(), 200)
})

t.test('a Redis that dies abruptly (SIGKILL) is noticed and recovered from the same way', async tt => {
  await redis.stop('SIGKILL')
  const down = await readyzUntil(503, 2_000)
  tt.equal(down.statusCode, 503, `503 within 2 s (after ${down.afterMs} ms)`)
  tt.same(down.body, { status: 'unavailable', checks: { postgres: 'ok', redis: 'fail' } })

  await redis.start()
  const back = await readyzUntil(200, 10_000)
  tt.equal(back.statusCode, 200, `200 again (after ${back.afterMs} ms)`)
  tt.same(back.body, ready)
})

t.test('a Redis that hangs (accepts but never answers) fails its bounded check, and it recovers', async tt => {
  redis.pause()
  tt.teardown(() => { if (redis.running) redis.resume() })
  const down = await readyzUntil(503, 2_000)
  tt.equal(down.statusCode, 503, `503 within 2 s (after ${down.afterMs} ms)`)
  tt.ok(down.afterMs <= 2_000, 'the hung check is cut short, not waited for')
  tt.same(down.body, { status: 'unavailable', checks: { postgres: 'ok', redis: 'fail' } })
  tt.equal(await healthzStatus(), 200)

  redis.resume()
  const back = await readyzUntil(200, 10_000)
  tt.equal(back.statusCode, 200, `200 again (after ${back.afterMs} ms)`)
  tt.same(back.body, ready)
})

t.test('a draining app answers /readyz 503 in the same shape while its dependencies are fine', async tt => {
  tt.equal((await readyzUntil(200, 5_000)).statusCode, 200, 'ready before draining')
  app.lifecycle.draining = true
  tt.teardown(() => { app.lifecycle.draining = false })

  const answer = await readyz()
  tt.equal(answer.statusCode, 503)
  tt.match(answer.contentType, /^application\/json/)
  tt.match(answer.body, { status: 'unavailable', checks: { postgres: 'ok', redis: 'ok' } })
  tt.same((answer.body as { checks: unknown }).checks, { postgres: 'ok', redis: 'ok' })
  tt.equal(await healthzStatus(), 200, '/healthz stays 200 while draining')
})
