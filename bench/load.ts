import autocannon from 'autocannon'
import type { BenchContext, HttpScenario } from './types.ts'

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
