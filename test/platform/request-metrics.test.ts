import t from 'tap'
import { Counter, Histogram, Registry } from 'prom-client'
import { RequestMetrics } from '../../src/platform/request-metrics.ts'

const counterName = { name: 'test_requests_total', help: 'requests' }
const histogramName = { name: 'test_request_duration_seconds', help: 'durations' }
const buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
// on a bound, between bounds, above the last one (only +Inf), repeated, in several series
const observations: Array<[string, string, number, number]> = [
  ['GET /v1/features', 'GET', 200, 0.0004],
  ['GET /v1/features', 'GET', 200, 0.001],
  ['GET /v1/features', 'GET', 200, 0.0073],
  ['unmatched', 'GET', 404, 0.0002],
  ['GET /v1/features', 'GET', 503, 31],
  ['POST /v1/articles', 'POST', 201, 0.3],
  ['GET /v1/features', 'GET', 200, 2.5],
  ['unmatched', 'PROPFIND', 404, 0.05]
]

/** The same observations through prom-client's own Counter and Histogram. */
function promClientText (): Promise<string> {
  const registry = new Registry()
  const labelNames = ['route', 'method', 'status_class'] as const
  const counter = new Counter({ ...counterName, labelNames, registers: [registry] })
  const histogram = new Histogram({ ...histogramName, labelNames, buckets, registers: [registry] })
  for (const [route, method, status, seconds] of observations) {
    const labels = [route, method, `${Math.floor(status / 100)}xx`] as const
    counter.labels(...labels).inc()
    histogram.labels(...labels).observe(seconds)
  }
  return registry.metrics()
}

t.test('exposed exactly as prom-client would expose the same observations', async tt => {
  const registry = new Registry()
  const metrics = new RequestMetrics(registry, counterName, histogramName, buckets)
  for (const [route, method, status, seconds] of observations) metrics.seriesFor(route, method, status).observe(seconds)
  tt.equal(await registry.metrics(), await promClientText())
})

t.test('a series is made once per route, method and status class', async tt => {
  const metrics = new RequestMetrics(new Registry(), counterName, histogramName, buckets)
  const series = metrics.seriesFor('GET /healthz', 'GET', 200)
  tt.equal(metrics.seriesFor('GET /healthz', 'GET', 204), series, 'same class')
  tt.not(metrics.seriesFor('GET /healthz', 'GET', 503), series)
  tt.not(metrics.seriesFor('GET /healthz', 'HEAD', 200), series)
  tt.same(series.labels, { route: 'GET /healthz', method: 'GET', status_class: '2xx' })
})

t.test('reset forgets every series, as prom-client does', async tt => {
  const registry = new Registry()
  const metrics = new RequestMetrics(registry, counterName, histogramName, buckets)
  metrics.seriesFor('GET /healthz', 'GET', 200).observe(0.002)
  registry.resetMetrics()
  tt.notMatch(await registry.metrics(), /GET \/healthz/)
  metrics.seriesFor('GET /healthz', 'GET', 200).observe(0.002)
  tt.match(await registry.metrics(), /^test_requests_total\{route="GET \/healthz",method="GET",status_class="2xx"\} 1$/m)
})
