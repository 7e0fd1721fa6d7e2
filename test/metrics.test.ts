import t from 'tap'
import type { FastifyPluginAsync } from 'fastify'
import { queueNames } from '../src/platform/jobs/queues.ts'
import { buildTestApp } from './helpers/app.ts'
import { testQueues } from './helpers/jobs.ts'
import { httpGet } from './helpers/nginx.ts'
import { freeLoopbackPort } from './helpers/service-process.ts'
import { startPrivateRedis } from './helpers/redis-server.ts'

type Labels = Record<string, string>

/** The value of the sample `name{labels}` in Prometheus text, or undefined when absent. */
function sampleValue (text: string, name: string, labels: Labels): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null || match[1] !== name) continue
    const found: Labels = {}
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      found[pair[1] as string] = pair[2] as string
    }
    const wanted = Object.entries(labels)
    if (wanted.length === Object.keys(found).length && wanted.every(([key, value]) => found[key] === value)) {
      return Number(match[3])
    }
  }
  return undefined
}

const healthz2xx = { route: 'GET /healthz', method: 'GET', status_class: '2xx' }
const requestCount = (text: string, labels: Labels) => sampleValue(text, 'atrium_http_request_duration_seconds_count', labels) ?? 0

t.test('on the API port', async tt => {
  const { app, config } = await buildTestApp(tt)
  const scrape = async () => {
    const response = await app.inject({ method: 'GET', url: '/metrics' })
    if (response.statusCode !== 200) throw new Error(`GET /metrics answered ${response.statusCode}`)
    return response.body
  }

  tt.test('GET /metrics answers Prometheus text', async t2 => {
    const response = await app.inject({ method: 'GET', url: '/metrics' })
    t2.equal(response.statusCode, 200)
    t2.match(response.headers['content-type'], /^text\/plain; version=0\.0\.4/)
    t2.match(response.body, /^# HELP atrium_http_request_duration_seconds /m)
    t2.match(response.body, /^# TYPE atrium_http_request_duration_seconds histogram$/m)
  })

  tt.test('a request increments its route-labelled histogram by exactly one', async t2 => {
    const before = await scrape()
    t2.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
    const after = await scrape()
    t2.equal(requestCount(after, healthz2xx), requestCount(before, healthz2xx) + 1)
    t2.equal(sampleValue(after, 'atrium_http_requests_total', healthz2xx), requestCount(after, healthz2xx), 'the counter agrees')
    t2.equal(
      sampleValue(after, 'atrium_http_request_duration_seconds_bucket', { ...healthz2xx, le: '+Inf' }),
      requestCount(after, healthz2xx),
      'the +Inf bucket holds every observation'
    )
    t2.ok((sampleValue(after, 'atrium_http_request_duration_seconds_sum', healthz2xx) ?? 0) > 0, 'the duration is summed')
  })

  tt.test('an unmatched URL is counted as unmatched with its status class', async t2 => {
    const unmatched4xx = { route: 'unmatched', method: 'GET', status_class: '4xx' }
    const before = requestCount(await scrape(), unmatched4xx)
    t2.equal((await app.inject({ method: 'GET', url: '/no/such/thing/42' })).statusCode, 404)
    const after = await scrape()
    t2.equal(requestCount(after, unmatched4xx), before + 1)
    t2.notMatch(after, /\/no\/such\/thing/, 'a raw URL never becomes a label')
  })

  tt.test('process, event-loop and pool metrics are present', async t2 => {
    const text = await scrape()
    for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'process_cpu_user_seconds_total', 'nodejs_heap_size_used_bytes']) {
      t2.type(sampleValue(text, name, {}), 'number', name)
    }
    t2.equal(sampleValue(text, 'atrium_db_pool_max_connections', {}), config.DATABASE_POOL_MAX)
  })

  tt.test('app.metrics takes a later plugin\'s metrics into the scrape', async t2 => {
    const { Counter } = await import('prom-client')
    const counter = new Counter({ name: 'atrium_test_things_total', help: 'things', registers: [app.metrics] })
    counter.inc(3)
    t2.equal(sampleValue(await scrape(), 'atrium_test_things_total', {}), 3)
  })
})

t.test('with METRICS_PORT, /metrics is served on that port only', async tt => {
  const port = await freeLoopbackPort()
  // a second app in the same process: its own registry, the process metrics shared, no clash
  const { app } = await buildTestApp(tt, { env: { METRICS_PORT: String(port) } })

  tt.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404, 'not on the API port')
  tt.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)

  const response = await httpGet(`http://127.0.0.1:${port}/metrics`)
  tt.equal(response.status, 200)
  tt.match(response.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  tt.equal(requestCount(response.body, healthz2xx), 1, "this app's own request count")
  tt.type(sampleValue(response.body, 'nodejs_eventloop_lag_seconds', {}), 'number')
  tt.equal((await httpGet(`http://127.0.0.1:${port}/other`)).status, 404)

  await app.close()
  await tt.rejects(httpGet(`http://127.0.0.1:${port}/metrics`), { code: 'ECONNREFUSED' }, 'the metrics port closes with the app')
})

const queueStates = ['waiting', 'active', 'delayed', 'failed']

t.test('queue depths per queue and state, read from Redis when scraped', async tt => {
  const { app, config } = await buildTestApp(tt)
  const { queues } = testQueues(tt, config)
  const scrape = async () => (await app.inject({ method: 'GET', url: '/metrics' })).body

  const before = await scrape()
  tt.match(before, /^# TYPE atrium_job_queue_jobs gauge$/m)
  for (const queue of queueNames) {
    for (const state of queueStates) tt.equal(sampleValue(before, 'atrium_job_queue_jobs', { queue, state }), 0, `${queue} ${state}: 0`)
  }

  const data = { outboxId: '1', payload: {}, requestId: null, tenantId: null }
  await queues.get('publishing').add('probe.later', data, { jobId: 'probe-delayed', delay: 60_000 })
  await queues.get('mail').add('probe.now', data, { jobId: 'probe-waiting' })
  const after = await scrape()
  tt.equal(sampleValue(after, 'atrium_job_queue_jobs', { queue: 'publishing', state: 'delayed' }), 1, 'the delayed job is counted')
  tt.equal(sampleValue(after, 'atrium_job_queue_jobs', { queue: 'publishing', state: 'waiting' }), 0)
  tt.equal(sampleValue(after, 'atrium_job_queue_jobs', { queue: 'mail', state: 'waiting' }), 1, 'a waiting job in another queue too')
  tt.equal(sampleValue(after, 'atrium_job_queue_jobs', { queue: 'billing', state: 'delayed' }), 0)
})

t.test('with Redis away, /metrics still answers, without the queue depths', async tt => {
  const redis = await startPrivateRedis(tt)
  const { app, logs } = await buildTestApp(tt, { env: { REDIS_URL: redis.url } })
  const scrape = async () => await app.inject({ method: 'GET', url: '/metrics' })
  tt.equal(sampleValue((await scrape()).body, 'atrium_job_queue_jobs', { queue: 'privacy', state: 'failed' }), 0, 'counted while Redis runs')

  await redis.stop()
  const response = await scrape()
  tt.equal(response.statusCode, 200)
  tt.equal(sampleValue(response.body, 'atrium_job_queue_jobs', { queue: 'privacy', state: 'failed' }), undefined, 'no stale depths')
  tt.equal(requestCount(response.body, { route: 'GET /metrics', method: 'GET', status_class: '2xx' }), 1, 'the rest of the scrape is there')
  tt.ok(logs.some(line => line.msg === 'queue depths not read; left out of /metrics'), 'the failure is logged')

  await redis.start()
  let text = ''
  for (let attempt = 0; attempt < 50 && sampleValue(text, 'atrium_job_queue_jobs', { queue: 'privacy', state: 'failed' }) === undefined; attempt++) {
    await new Promise(resolve => setTimeout(resolve, 100))
    text = (await scrape()).body
  }
  tt.equal(sampleValue(text, 'atrium_job_queue_jobs', { queue: 'privacy', state: 'failed' }), 0, 'back once Redis is')
})

t.test('pool use, problems by code, readiness and load shedding, as the dashboard and alerts read them', async tt => {
  let release: () => void = () => {}
  const held = new Promise<void>(resolve => { release = resolve })
  const probes: FastifyPluginAsync = async (app) => {
    // a transaction that holds its connection until the test lets it go
    app.get('/probe/hold', { config: { public: true, timeout: 30_000 } }, async () => {
      await app.db.transaction(null, async tx => { await tx`select 1`; await held })
      return { done: true }
    })
  }
  const { app } = await buildTestApp(tt, { extraPlugins: [probes], env: { DATABASE_POOL_MAX: '1' } })
  const scrape = async () => (await app.inject({ method: 'GET', url: '/metrics' })).body

  const idle = await scrape()
  tt.equal(sampleValue(idle, 'atrium_db_pool_in_use_connections', {}), 0)
  tt.equal(sampleValue(idle, 'atrium_db_pool_waiting_calls', {}), 0)
  tt.equal(sampleValue(idle, 'atrium_ready', {}), 1, 'ready')
  tt.equal(sampleValue(idle, 'atrium_load_shed_total', {}), 0, 'nothing shed')

  const first = app.inject({ method: 'GET', url: '/probe/hold' })
  const second = app.inject({ method: 'GET', url: '/probe/hold' })
  let busy = ''
  for (let attempt = 0; attempt < 100 && sampleValue(busy, 'atrium_db_pool_waiting_calls', {}) !== 1; attempt++) {
    await new Promise(resolve => setTimeout(resolve, 20))
    busy = await scrape()
  }
  tt.equal(sampleValue(busy, 'atrium_db_pool_in_use_connections', {}), 1, 'the one connection is held')
  tt.equal(sampleValue(busy, 'atrium_db_pool_waiting_calls', {}), 1, 'the second transaction waits for it')
  release()
  tt.equal((await first).statusCode, 200)
  tt.equal((await second).statusCode, 200)
  const after = await scrape()
  tt.equal(sampleValue(after, 'atrium_db_pool_in_use_connections', {}), 0, 'released')
  tt.equal(sampleValue(after, 'atrium_db_pool_waiting_calls', {}), 0)

  const notFound = { code: 'not_found', status: '404' }
  const before404 = sampleValue(after, 'atrium_http_problems_total', notFound) ?? 0
  tt.equal((await app.inject({ method: 'GET', url: '/no/such/thing' })).statusCode, 404)
  tt.equal(sampleValue(await scrape(), 'atrium_http_problems_total', notFound), before404 + 1, 'a problem counted by its code and status')

  app.lifecycle.draining = true
  tt.equal(sampleValue(await scrape(), 'atrium_ready', {}), 0, 'draining: not ready, as /readyz says')
  app.lifecycle.draining = false
})
