import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { atrium } from './atrium-server.ts'
import { BenchError } from './settings.ts'
import type { HttpScenario, Ratio, Scenario } from './types.ts'

/** What a change costs, measured against the build before it in the same interleaved rounds. */
export interface Comparison {
  scenarios: Scenario[]
  ratios: Ratio[]
  /** the scenarios in the order of this round: each pair's two builds swap places every other round */
  orderOf: (round: number) => Scenario[]
}

const comparable = (scenario: Scenario): scenario is HttpScenario =>
  scenario.kind !== 'command' && scenario.server.script === atrium.script && scenario.server.root === undefined

/**
 * BENCH_COMPARE=<checkout>: each selected Atrium scenario runs twice in every round, on this build
 * and on the other checkout's (same requests, same database, same environment), one right after
 * the other, which one first alternating by round (the second run of a pair was seen to gain up to
 * 7 % from its place alone), and a ratio "this build ÷ compare build" is reported for each, with a
 * target of 0.98: a change that costs more than 2 % shows as FAIL. The other build must run against this checkout's migrations (a
 * commit with the same schema, or this one with a change taken out).
 */
export function withComparison (selected: Scenario[], root: string): Comparison {
  for (const script of [atrium.script, atrium.worker?.script]) {
    if (script !== undefined && !existsSync(join(root, script))) {
      throw new BenchError(`BENCH_COMPARE: ${join(root, script)} is missing; build that checkout first ` +
        '(npm ci && npm run build && npx tsc -p bench/tsconfig.json)')
    }
  }
  const pairs: Scenario[][] = []
  const ratios: Ratio[] = []
  for (const scenario of selected) {
    if (!comparable(scenario)) {
      pairs.push([scenario])
      continue
    }
    const twin: HttpScenario = {
      ...scenario,
      name: `${scenario.name} [compare build]`,
      server: { ...scenario.server, name: `${scenario.server.name}-compare`, root }
    }
    pairs.push([scenario, twin])
    ratios.push({ name: `${scenario.name}: this build ÷ ${root}`, numerator: scenario, denominator: twin, target: 0.98, direction: '>=' })
  }
  if (ratios.length === 0) throw new BenchError('BENCH_COMPARE: no selected scenario runs the Atrium server')
  return {
    scenarios: pairs.flat(),
    ratios,
    orderOf: round => pairs.flatMap(pair => round % 2 === 1 ? pair : [...pair].reverse())
  }
}
