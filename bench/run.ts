import { randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stopCommands } from './command.ts'
import { prepareBenchDatabase, type BenchDatabase } from './database.ts'
import { stopLoad, warmThenMeasure } from './load.ts'
import { startOtlpSink, type OtlpSink } from './otlp-sink.ts'
import { resultsMarkdown, ratioTable, runLine, summaryTable, type Environment } from './report.ts'
import { ratios, scenarios } from './scenarios.ts'
import { withComparison } from './compare.ts'
import { runningServers, serverNode, startServer } from './server-process.ts'
import { BenchError, loadSettings, type BenchSettings } from './settings.ts'
import { problemsOf, ratioOutcome, summarize } from './stats.ts'
import type { BenchContext, CommandScenario, HttpScenario, Measurement, RunResult, Scenario } from './types.ts'

/** Server start and stop around each run, on top of warm-up and measurement; for the estimate only. */
const OVERHEAD_PER_RUN_S = 2

const startedAt = Date.now()
const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const scratchDir = join(repoRoot, 'bench', '.tmp')
const say = (message: string): void => { process.stdout.write(`bench: ${message}\n`) }
const elapsedSeconds = (): number => (Date.now() - startedAt) / 1000

let stopping = false
/** Stops the load and every server, then exits with code; a second signal while stopping changes nothing. */
async function abort (reason: string, code: number): Promise<void> {
  if (stopping) return
  stopping = true
  process.stderr.write(`bench: ${reason}; stopping servers\n`)
  stopLoad()
  stopCommands()
  await Promise.all(runningServers().map(server => server.stop()))
  process.stderr.write(`bench: stopped after ${Math.round(elapsedSeconds())} s\n`)
  process.exit(code)
}

function abortSoon (reason: string, code: number): void {
  abort(reason, code).catch(() => process.exit(code))
}

/**
 * The scenarios BENCH_ONLY names, minus those that cannot run on this machine (a missing tool):
 * those are skipped with a note, printed now and written to RESULTS.md, never silently.
 */
function selectScenarios (settings: BenchSettings, notes: string[]): Scenario[] {
  const names = scenarios.map(s => s.name)
  const duplicate = names.find((name, i) => names.indexOf(name) !== i)
  if (duplicate !== undefined) throw new BenchError(`two scenarios are named '${duplicate}'`)
  const matching = settings.only.length === 0
    ? scenarios
    : scenarios.filter(s => settings.only.some(part => part.startsWith('=') ? s.name === part.slice(1) : s.name.includes(part)))
  if (matching.length === 0) throw new BenchError(`BENCH_ONLY matches no scenario (scenarios: ${names.join('; ')})`)
  const selected = matching.filter(scenario => {
    const unavailable = scenario.kind === 'command' ? scenario.unavailable?.() : undefined
    if (unavailable !== undefined) {
      notes.push(`SKIPPED: ${scenario.name}: ${unavailable}; the ratios that need it are "not run"`)
      process.stderr.write(`\nbench: !!! SKIPPED ${scenario.name}: ${unavailable}\n\n`)
    }
    return unavailable === undefined
  })
  if (selected.length === 0) throw new BenchError('no selected scenario can run on this machine')
  const scripts = selected.flatMap(s => s.kind === 'command' ? [] : [s.server.script])
  for (const script of new Set(scripts)) {
    if (!existsSync(join(repoRoot, script))) {
      throw new BenchError(`${script} is missing: \`npm run bench\` builds it (npm run build, then tsc -p bench/tsconfig.json)`)
    }
  }
  return selected
}

const loadAverage = (): string => loadavg().map(l => l.toFixed(2)).join(' ')

/** The machine and code being measured, taken when the measuring starts. */
function environment (postgres: string): Environment {
  const git = (...args: string[]): string => execFileSync('git', args, {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' },
    stdio: ['ignore', 'pipe', 'ignore']
  }).trim()
  let commit: string
  try {
    commit = git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain') === '' ? '' : ' with uncommitted changes')
  } catch {
    commit = 'unknown'
  }
  return {
    date: new Date().toISOString(),
    node: serverNodeVersion(),
    platform: `${process.platform} ${process.arch}`,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    loadAverageAtStart: loadAverage(),
    postgres,
    commit
  }
}

/** A scenario that measures itself (pgbench): no server, no autocannon. */
async function measureCommand (scenario: CommandScenario, context: BenchContext, settings: BenchSettings): Promise<Measurement> {
  say(`  command; ${settings.warmupS > 0 ? `${settings.warmupS} s warm-up, then ` : ''}${settings.durationS} s measured`)
  return scenario.measure(context, { durationS: settings.durationS, warmupS: settings.warmupS, connections: settings.connections, scratchDir })
}

async function runOnce (scenario: Scenario, round: number, context: BenchContext, settings: BenchSettings): Promise<RunResult> {
  const measurement = scenario.kind === 'command'
    ? await measureCommand(scenario, context, settings)
    : await measureServer(scenario, context, settings)
  return { scenario: scenario.name, round, ...measurement }
}

/** A fresh server process for the run, loaded by autocannon: warm-up, then the measured run. */
async function measureServer (scenario: HttpScenario, context: BenchContext, settings: BenchSettings): Promise<Measurement> {
  const logPath = join(scratchDir, `${scenario.server.name}.log`)
  const server = await startServer(scenario.server, context, logPath)
  try {
    say(`  ${scenario.server.name} server pid ${server.pid} on ${server.url}; ` +
      `${settings.warmupS > 0 ? `${settings.warmupS} s warm-up, then ` : ''}${settings.durationS} s measured`)
    const logBytesBefore = statSync(logPath).size
    const figures = await warmThenMeasure(scenario, context, server.url, settings, server.cpuUs)
    const peakRssKb = server.peakRssKb()
    if (server.exited()) throw new BenchError(`the ${scenario.server.name} server died during the run:\n${server.stderrTail()}`)
    return { ...figures, peakRssKb, logBytes: statSync(logPath).size - logBytesBefore }
  } finally {
    await server.stop()
    rmSync(logPath, { force: true })
  }
}

async function main (): Promise<number> {
  const settings = loadSettings()
  const notes: string[] = []
  const chosen = selectScenarios(settings, notes)
  const comparison = settings.compare === undefined ? undefined : withComparison(chosen, settings.compare)
  const selected = comparison?.scenarios ?? chosen
  const runs = selected.length * settings.pairs
  const estimateS = runs * (settings.warmupS + settings.durationS + OVERHEAD_PER_RUN_S)
  // a hang anywhere ends the bench instead of holding the machine
  setTimeout(() => abortSoon(`exceeded ${2 * estimateS + 300} s`, 2), (2 * estimateS + 300) * 1000).unref()
  say(`${selected.length} scenarios × ${settings.pairs} rounds = ${runs} runs of ${settings.warmupS} s warm-up + ` +
    `${settings.durationS} s, ${settings.connections} connections: about ${estimateS < 120 ? `${estimateS} s` : `${Math.ceil(estimateS / 60)} min`}`)

  mkdirSync(scratchDir, { recursive: true })
  let database: BenchDatabase | undefined
  let otlpSink: OtlpSink | undefined
  try {
    database = await prepareBenchDatabase(say)
    otlpSink = await startOtlpSink()
    const context: BenchContext = {
      ownerUrl: database.ownerUrl,
      runtimeUrl: database.runtimeUrl,
      redisUrl: 'redis://127.0.0.1:6379',
      redisPrefix: 'atrium-bench:',
      secrets: { jwt: randomBytes(32).toString('hex'), paymentsWebhook: randomBytes(24).toString('hex') },
      otlpUrl: otlpSink.url
    }
    // scenarios often share one setup (the seeding): each distinct setup runs once
    for (const setup of new Set(selected.map(s => s.setup))) {
      if (setup === undefined) continue
      say(`setup for: ${selected.filter(s => s.setup === setup).map(s => s.name).join('; ')}`)
      await setup(context, message => say(`  ${message}`))
    }

    const measuredEnvironment = environment(database.serverVersion)
    const results: RunResult[] = []
    for (let round = 1; round <= settings.pairs; round++) {
      for (const scenario of comparison?.orderOf(round) ?? selected) {
        if (stopping) await new Promise<never>(() => {}) // abort() is stopping the servers and will exit
        say(`[${results.length + 1}/${runs}] round ${round}/${settings.pairs}: ${scenario.name}`)
        const result = await runOnce(scenario, round, context, settings)
        say(`  ${runLine(result)}`)
        results.push(result)
      }
    }

    const traced = otlpSink.received()
    if (traced.exports > 0) say(`the traced scenario exported ${traced.exports} OTLP requests (${Math.round(traced.bytes / 1024)} KiB) to the local receiver`)
    const report = {
      environment: measuredEnvironment,
      loadAverageAtEnd: loadAverage(),
      settings,
      notes,
      results,
      summaries: selected.map(s => summarize(s, results)),
      ratios: [...ratios, ...comparison?.ratios ?? []].map(r => ratioOutcome(r, results)),
      totalSeconds: elapsedSeconds()
    }
    const resultsPath = join(repoRoot, 'bench', 'RESULTS.md')
    writeFileSync(resultsPath, resultsMarkdown(report))
    process.stdout.write(`\n${summaryTable(report.summaries)}\n\n${ratioTable(report.ratios, results)}\n\n`)
    for (const note of notes) process.stdout.write(`!!! ${note}\n`)
    const invalid = results.filter(r => problemsOf(r) !== undefined)
    if (invalid.length > 0) {
      process.stdout.write(`!!! ${invalid.length} of ${runs} runs had errors or non-2xx responses: their figures are not valid (see ${resultsPath})\n`)
    }
    say(`wrote ${resultsPath}; total runtime ${Math.round(elapsedSeconds())} s`)
    return invalid.length > 0 ? 1 : 0
  } finally {
    await Promise.all(runningServers().map(server => server.stop()))
    await otlpSink?.close()
    await database?.release()
  }
}

process.on('SIGINT', () => abortSoon('interrupted', 130))
process.on('SIGTERM', () => abortSoon('terminated', 143))

try {
  process.exitCode = await main()
} catch (error) {
  process.stderr.write(`bench: ${error instanceof BenchError ? error.message : (error as Error).stack ?? String(error)}\n`)
  process.stderr.write(`bench: failed after ${Math.round(elapsedSeconds())} s\n`)
  process.exitCode = 1
}

/** The servers' node version (BENCH_NODE may name another binary than the harness runs on). */
function serverNodeVersion (): string {
  return execFileSync(serverNode(), ['--version'], { encoding: 'utf8' }).trim()
}
