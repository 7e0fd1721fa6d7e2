import type { Ratio, RatioMetric, RunResult, Scenario } from './types.ts'

export function median (values: number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

export interface RatioOutcome {
  ratio: Ratio
  /** one value per round in which both scenarios ran */
  pairs: number[]
  median: number
  min: number
  max: number
  /** undefined when no pair could be formed */
  pass: boolean | undefined
}

function metricOf (result: RunResult, metric: RatioMetric): number | undefined {
  return metric === 'peakRssKb' ? result.peakRssKb : result.requestsPerSec
}

/** The ratio in every round (numerator and denominator from the same round), quoted by its median. */
export function ratioOutcome (ratio: Ratio, results: RunResult[]): RatioOutcome {
  const metric = ratio.metric ?? 'requestsPerSec'
  const pairs: number[] = []
  for (const numerator of results.filter(r => r.scenario === ratio.numerator.name)) {
    const denominator = results.find(r => r.scenario === ratio.denominator.name && r.round === numerator.round)
    const top = metricOf(numerator, metric)
    const bottom = denominator && metricOf(denominator, metric)
    if (top !== undefined && bottom !== undefined && bottom > 0) pairs.push(top / bottom)
  }
  const middle = median(pairs)
  return {
    ratio,
    pairs,
    median: middle,
    min: Math.min(...pairs),
    max: Math.max(...pairs),
    pass: pairs.length === 0 ? undefined : ratio.direction === '>=' ? middle >= ratio.target : middle <= ratio.target
  }
}

/** A scenario's runs in one row: the measured fields of RunResult, over the rounds. */
export interface ScenarioSummary extends Pick<RunResult, 'requestsPerSec' | 'latencyP50' | 'latencyP97_5' | 'latencyP99' |
  'errors' | 'timeouts' | 'non2xx' | 'peakRssKb' | 'serverCpuUsPerRequest'> {
  scenario: Scenario
  runs: number
}

/** Medians over the rounds; errors summed; the highest peak RSS. */
export function summarize (scenario: Scenario, results: RunResult[]): ScenarioSummary {
  const runs = results.filter(r => r.scenario === scenario.name)
  const rss = runs.map(r => r.peakRssKb).filter((kb): kb is number => kb !== undefined)
  const cpu = runs.map(r => r.serverCpuUsPerRequest).filter((us): us is number => us !== undefined)
  return {
    scenario,
    runs: runs.length,
    requestsPerSec: median(runs.map(r => r.requestsPerSec)),
    latencyP50: median(runs.map(r => r.latencyP50)),
    latencyP97_5: median(runs.map(r => r.latencyP97_5)),
    latencyP99: median(runs.map(r => r.latencyP99)),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    timeouts: runs.reduce((sum, r) => sum + r.timeouts, 0),
    non2xx: runs.reduce((sum, r) => sum + r.non2xx, 0),
    peakRssKb: rss.length === 0 ? undefined : Math.max(...rss),
    serverCpuUsPerRequest: cpu.length === 0 ? undefined : median(cpu)
  }
}

/** A run whose figures cannot be trusted: something failed or answered other than 2xx. */
export function problemsOf (result: RunResult): string | undefined {
  const parts: string[] = []
  if (result.errors > 0) parts.push(`${result.errors} errors`)
  if (result.timeouts > 0) parts.push(`${result.timeouts} timeouts`)
  if (result.non2xx > 0) {
    const statuses = Object.entries(result.badStatuses).map(([status, count]) => `${status}×${count}`).join(', ')
    parts.push(`${result.non2xx} non-2xx${statuses ? ` (${statuses})` : ''}`)
  }
  if (result.totalRequests === 0) parts.push('no request completed')
  if (result.warmupProblems > 0) parts.push(`${result.warmupProblems} errors or non-2xx during the warm-up`)
  return parts.length === 0 ? undefined : parts.join(', ')
}
