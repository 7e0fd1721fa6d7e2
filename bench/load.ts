import autocannon from 'autocannon'
import type { BenchContext, HttpScenario, Measurement } from './types.ts'

let active: autocannon.Instance | undefined

/** Stops the load in progress, if any (the harness was interrupted). */
export function stopLoad (): void {
  active?.stop()
}

function optionsFor (scenario: HttpScenario, context: BenchContext, url: string, connections: number, durationS: number): autocannon.Options {
  const headers: Record<string, string> = { ...scenario.headers }
  let body: string | undefined
  if (scenario.body !== undefined) {
    body = JSON.stringify(scenario.body)
    headers['content-type'] ??= 'application/json'
  }
  return {
    url: url + scenario.path,
    method: scenario.method ?? 'GET',
    headers,
    ...(body === undefined ? {} : { body }),
    ...(scenario.requests ? { requests: scenario.requests(context) } : {}),
    connections,
    pipelining: 1,
    duration: durationS,
    timeout: 10
  }
}

/** Drives the server with autocannon for durationS seconds and returns autocannon's result. */
export function drive (scenario: HttpScenario, context: BenchContext, url: string, connections: number, durationS: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    active = autocannon(optionsFor(scenario, context, url, connections, durationS), (error, result) => {
      active = undefined
      if (error) reject(error instanceof Error ? error : new Error(String(error)))
      else resolve(result)
    })
  })
}

/** Every status that is neither 2xx nor the scenario's expected one, with its count. */
export function badStatuses (result: autocannon.Result, expected?: number): Record<string, number> {
  const bad: Record<string, number> = {}
  for (const [status, stats] of Object.entries(result.statusCodeStats ?? {})) {
    if (!status.startsWith('2') && status !== String(expected) && (stats.count ?? 0) > 0) bad[status] = stats.count ?? 0
  }
  return bad
}

/** autocannon's non-2xx count, less the answers with the scenario's expected status */
export function unexpectedNon2xx (result: autocannon.Result, expected?: number): number {
  const wanted = expected === undefined ? 0 : result.statusCodeStats?.[String(expected) as keyof typeof result.statusCodeStats]?.count ?? 0
  return result.non2xx - wanted
}

/** How a run sees the servers it loads: their CPU time so far (µs), undefined when it cannot be read. */
export type CpuClock = () => number | undefined

/** What a load measured, before the harness adds what it knows of the server (RSS, log bytes). */
export type LoadFigures = Omit<Measurement, 'peakRssKb' | 'logBytes'>

/**
 * The warm-up (its problems counted, its figures thrown away), then the measured load, with the
 * servers' CPU time read around it: the figures every HTTP run reports, whoever starts the servers.
 */
export async function warmThenMeasure (scenario: HttpScenario, context: BenchContext, url: string,
  load: { connections: number, warmupS: number, durationS: number }, cpuUs: CpuClock): Promise<LoadFigures> {
  let warmupProblems = 0
  if (load.warmupS > 0) {
    const warmup = await drive(scenario, context, url, load.connections, load.warmupS)
    warmupProblems = warmup.errors + unexpectedNon2xx(warmup, scenario.expectedStatus)
  }
  const cpuBefore = cpuUs()
  const result = await drive(scenario, context, url, load.connections, load.durationS)
  const cpuAfter = cpuUs()
  return {
    requestsPerSec: result.requests.average,
    totalRequests: result.requests.total,
    latencyP50: result.latency.p50,
    latencyP97_5: result.latency.p97_5,
    latencyP99: result.latency.p99,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: unexpectedNon2xx(result, scenario.expectedStatus),
    badStatuses: badStatuses(result, scenario.expectedStatus),
    serverCpuUsPerRequest: cpuBefore === undefined || cpuAfter === undefined || result.requests.total === 0
      ? undefined
      : (cpuAfter - cpuBefore) / result.requests.total,
    warmupProblems
  }
}
