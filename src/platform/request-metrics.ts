import type { Metric, Registry } from 'prom-client'

/** The labels of both request metrics, in their exposition order. */
export interface RequestLabels {
  route: string
  method: string
  status_class: string
}

/** A metric's name and help text. */
export interface MetricName {
  name: string
  help: string
}

/**
 * One label set of a request counter and a duration histogram counted together: plain numbers,
 * bumped in place. prom-client's `labels(...).inc()` and `.observe()` validate the labels, build a
 * hash string and look it up on every call (about 1 µs a request for both, measured), though a
 * request's series never changes.
 */
export class RequestSeries {
  count = 0
  sum = 0
  /** observations per bucket (not cumulative); a value above the last bound is in none, only in count */
  readonly buckets: number[]

  constructor (readonly labels: Readonly<RequestLabels>, private readonly bounds: readonly number[]) {
    this.buckets = bounds.map(() => 0)
  }

  observe (seconds: number): void {
    this.count += 1
    this.sum += seconds
    const bounds = this.bounds
    for (let i = 0; i < bounds.length; i++) {
      if (seconds <= (bounds[i] as number)) {
        this.buckets[i] = (this.buckets[i] as number) + 1
        return
      }
    }
  }
}

interface MetricValue {
  value: number
  labels: Record<string, string | number>
  metricName?: string
}

/** What a prom-client Registry reads of a metric: exposition and reset, nothing else. */
interface Collected {
  name: string
  help: string
  type: 'counter' | 'histogram'
  aggregator: 'sum'
  get: () => Promise<{ name: string, help: string, type: 'counter' | 'histogram', aggregator: 'sum', values: MetricValue[] }>
  reset: () => void
}

/**
 * A counter of requests and a histogram of their durations with the same labels, registered on a
 * prom-client Registry under their usual names, exposed exactly as a prom-client Counter and
 * Histogram fed the same observations would be (test/platform/request-metrics.test.ts compares).
 */
export class RequestMetrics {
  private series: RequestSeries[] = []
  private byRoute = new Map<string, Map<string, Array<RequestSeries | undefined>>>()

  constructor (registry: Registry, counter: MetricName, histogram: MetricName, private readonly bounds: readonly number[]) {
    const countValues = (): MetricValue[] => this.series.map(s => ({ value: s.count, labels: { ...s.labels } }))
    const histogramValues = (): MetricValue[] => this.series.flatMap(s => {
      let cumulative = 0
      const values: MetricValue[] = bounds.map((bound, i) => {
        cumulative += s.buckets[i] as number
        return { value: cumulative, labels: { le: bound, ...s.labels }, metricName: `${histogram.name}_bucket` }
      })
      values.push(
        { value: s.count, labels: { le: '+Inf', ...s.labels }, metricName: `${histogram.name}_bucket` },
        { value: s.sum, labels: { ...s.labels }, metricName: `${histogram.name}_sum` },
        { value: s.count, labels: { ...s.labels }, metricName: `${histogram.name}_count` }
      )
      return values
    })
    this.register(registry, { ...counter, type: 'counter' }, countValues)
    this.register(registry, { ...histogram, type: 'histogram' }, histogramValues)
  }

  /**
   * The series of (route, method, status), made the first time it is seen: two map lookups and an
   * array read, no label object. Cardinality is bounded: routes are patterns (or 'unmatched') and
   * Node's parser knows few methods.
   */
  seriesFor (route: string, method: string, status: number): RequestSeries {
    let byMethod = this.byRoute.get(route)
    if (byMethod === undefined) {
      byMethod = new Map()
      this.byRoute.set(route, byMethod)
    }
    let byClass = byMethod.get(method)
    if (byClass === undefined) {
      byClass = []
      byMethod.set(method, byClass)
    }
    const statusClass = Math.floor(status / 100)
    let series = byClass[statusClass]
    if (series === undefined) {
      series = new RequestSeries({ route, method, status_class: `${statusClass}xx` }, this.bounds)
      byClass[statusClass] = series
      this.series.push(series)
    }
    return series
  }

  private register (registry: Registry, metric: MetricName & { type: 'counter' | 'histogram' }, values: () => MetricValue[]): void {
    const collected: Collected = {
      ...metric,
      aggregator: 'sum',
      // the registry may rename the metric it holds (OpenMetrics counters): read the name then
      get: async () => ({ name: collected.name, help: collected.help, type: collected.type, aggregator: 'sum', values: values() }),
      // as prom-client's reset: every series is forgotten until it is seen again
      reset: () => {
        this.series = []
        this.byRoute = new Map()
      }
    }
    // the Registry only calls get() and reset() (and reads name and type) of what it holds
    registry.registerMetric(collected as unknown as Metric)
  }
}
