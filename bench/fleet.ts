import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { findNginx, startNginx } from '../test/helpers/nginx.ts'
import { warmThenMeasure } from './load.ts'
import { articleByIdAsMembers } from './requests.ts'
import { startServer, type RunningServer } from './server-process.ts'
import { prepareFixtures } from './fixtures.ts'
import { atrium, atriumEnv, atriumWorker } from './atrium-server.ts'
import type { BenchContext, CommandRun, CommandScenario, HttpScenario, Measurement, Ratio, Scenario, ServerSpec } from './types.ts'

/**
 * Issue 17's measurements, self-contained: the article read through PgBouncer (transaction mode)
 * with prepared statements on and off, and through nginx with one API instance and with two.
 */

const viaPgbouncer = (prepare: boolean): ServerSpec => ({
  name: `atrium-pgbouncer-prepare-${prepare ? 'on' : 'off'}`,
  script: 'dist/bench/servers/atrium-pgbouncer.js',
  env: context => atriumEnv(context, { DATABASE_PREPARE: String(prepare) }),
  worker: atriumWorker
})

const seeded = { setup: prepareFixtures }

export const pgbouncerPrepareOff: HttpScenario = {
  name: 'atrium GET /v1/articles/:id via PgBouncer, prepare off',
  server: viaPgbouncer(false),
  path: '/v1/articles',
  requests: articleByIdAsMembers,
  ...seeded
}
/** PgBouncer 1.18 in transaction mode cannot keep named statements: errors are what this row shows */
export const pgbouncerPrepareOn: HttpScenario = {
  name: 'atrium GET /v1/articles/:id via PgBouncer, prepare on',
  server: viaPgbouncer(true),
  path: '/v1/articles',
  requests: articleByIdAsMembers,
  ...seeded
}

const behindNginx: ServerSpec = { ...atrium, name: 'atrium-behind-nginx' }

/** N API processes behind a real nginx (deploy/nginx.conf, both in one upstream), loaded through nginx. */
async function throughNginx (instances: number, context: BenchContext, run: CommandRun): Promise<Measurement> {
  const nginxBinary = findNginx()
  if (nginxBinary === undefined) throw new Error('nginx is not installed')
  const teardowns: Array<() => unknown> = []
  const servers: RunningServer[] = []
  const logs = Array.from({ length: instances }, (_, i) => join(run.scratchDir, `atrium-behind-nginx-${i}.log`))
  const scenario: HttpScenario = { name: 'through nginx', server: behindNginx, path: '/v1/articles', requests: articleByIdAsMembers }
  try {
    for (const log of logs) servers.push(await startServer(behindNginx, context, log))
    // the per-client rate of deploy/nginx.conf would refuse a load from one address
    const nginx = await startNginx({ teardown: fn => { teardowns.push(fn) } }, nginxBinary,
      servers.map(server => Number(new URL(server.url).port)), config => config.replace(/rate=20r\/s;/, 'rate=1000000r/s;'))
    // the API processes' CPU together, per request (nginx's is not counted)
    const cpuUs = (): number | undefined => {
      const each = servers.map(server => server.cpuUs())
      return each.includes(undefined) ? undefined : each.reduce<number>((sum, us) => sum + (us ?? 0), 0)
    }
    const figures = await warmThenMeasure(scenario, context, nginx.url, run, cpuUs)
    return { ...figures, peakRssKb: Math.max(...servers.map(server => server.peakRssKb() ?? 0)), logBytes: 0 }
  } finally {
    for (const teardown of teardowns.reverse()) await teardown()
    await Promise.all(servers.map(async server => await server.stop()))
    for (const log of logs) rmSync(log, { force: true })
  }
}

const nginxUnavailable = (): string | undefined => findNginx() === undefined ? 'nginx is not installed' : undefined

export const nginxOneApi: CommandScenario = {
  kind: 'command',
  name: 'atrium GET /v1/articles/:id through nginx, 1 API process',
  unavailable: nginxUnavailable,
  measure: async (context, run) => await throughNginx(1, context, run),
  ...seeded
}
export const nginxTwoApis: CommandScenario = {
  kind: 'command',
  name: 'atrium GET /v1/articles/:id through nginx, 2 API processes',
  unavailable: nginxUnavailable,
  measure: async (context, run) => await throughNginx(2, context, run),
  ...seeded
}

/**
 * In this order: the one-instance side first, as a baseline runs before what is measured against it.
 * `prepare on` fails by design (wrong answers and errors: a named statement prepared on one server
 * connection is looked up on another), which marks a whole run not valid: it runs only when
 * BENCH_ONLY names it (BENCH_ONLY='prepare on,atrium GET /v1/articles/:id').
 */
export const fleetScenarios: Scenario[] = [
  pgbouncerPrepareOff,
  ...((process.env.BENCH_ONLY ?? '').includes('prepare on') ? [pgbouncerPrepareOn] : []),
  nginxOneApi,
  nginxTwoApis
]

/** The ratios against the direct article read (scenarios.ts passes it: no import cycle). */
export function fleetRatios (directArticle: Scenario): Ratio[] {
  return [
    { name: 'issue 17: article by id via PgBouncer (prepare off) ÷ direct', numerator: pgbouncerPrepareOff, denominator: directArticle, target: 0.5, direction: '>=' },
    { name: 'issue 17: article by id via PgBouncer (prepare on) ÷ direct', numerator: pgbouncerPrepareOn, denominator: directArticle, target: 0, direction: '>=' },
    // on 2 shared cores a second process has no core of its own: expect well under 2
    { name: 'issue 17: article by id through nginx, 2 API processes ÷ 1', numerator: nginxTwoApis, denominator: nginxOneApi, target: 1, direction: '>=' }
  ]
}
