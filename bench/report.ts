import type { BenchSettings } from './settings.ts'
import { problemsOf, type RatioOutcome, type ScenarioSummary } from './stats.ts'
import type { RunResult } from './types.ts'

export interface Environment {
  date: string
  node: string
  platform: string
  cpus: number
  cpuModel: string
  /** 1, 5 and 15 minute load averages: above the CPU count, other work competed with the bench */
  loadAverageAtStart: string
  postgres: string
  commit: string
}

export interface Report {
  environment: Environment
  loadAverageAtEnd: string
  settings: BenchSettings
  /** what the reader must know (a baseline skipped), shown first */
  notes: string[]
  results: RunResult[]
  summaries: ScenarioSummary[]
  ratios: RatioOutcome[]
  totalSeconds: number
}

const integer = (n: number): string => Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a'
const ms = (n: number): string => Number.isFinite(n) ? String(Number(n.toFixed(2))) : 'n/a'
const ratio = (n: number): string => Number.isFinite(n) ? n.toFixed(2) : 'n/a'
const megabytes = (kb: number | undefined): string => kb === undefined ? 'n/a' : (kb / 1024).toFixed(1)
const cpuPerRequest = (us: number | undefined): string => us === undefined ? 'n/a' : us.toFixed(1)

export function markdownTable (headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map(row => (row[i] ?? '').length)))
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`
  return [line(headers), line(widths.map(w => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

/** The line printed when a run ends. */
export function runLine (result: RunResult): string {
  const problems = problemsOf(result)
  return `${integer(result.requestsPerSec)} req/s, server CPU ${cpuPerRequest(result.serverCpuUsPerRequest)} µs/req, p50 ${ms(result.latencyP50)} ms, p97.5 ${ms(result.latencyP97_5)} ms, ` +
    `p99 ${ms(result.latencyP99)} ms, peak RSS ${result.peakRssKb === undefined ? 'n/a' : `${megabytes(result.peakRssKb)} MB`}` +
    (problems ? `\n!!! ${result.scenario}, round ${result.round}: ${problems}: THIS RUN IS NOT VALID` : '')
}

/** The last row of the ratio table: issue 9's "errors and non-2xx during every run: 0". */
function problemsRow (results: RunResult[]): string[] {
  const invalid = results.filter(r => problemsOf(r) !== undefined).length
  const count = results.reduce((sum, r) => sum + r.errors + r.timeouts + r.non2xx + r.warmupProblems, 0)
  return [
    'errors, timeouts and non-2xx, every run (warm-ups included)',
    String(count),
    `${invalid} of ${results.length} runs`,
    String(results.length),
    '= 0',
    results.length === 0 ? 'not run' : invalid === 0 ? 'pass' : '**FAIL**'
  ]
}

export function ratioTable (outcomes: RatioOutcome[], results: RunResult[]): string {
  return markdownTable(
    ['ratio', 'median', 'range', 'pairs', 'target', 'result'],
    [
      ...outcomes.map(o => [
        o.ratio.name,
        ratio(o.median),
        o.pairs.length === 0 ? 'n/a' : `${ratio(o.min)}–${ratio(o.max)}`,
        String(o.pairs.length),
        `${o.ratio.direction} ${o.ratio.target}`,
        o.pass === undefined ? 'not run' : o.pass ? 'pass' : '**FAIL**'
      ]),
      problemsRow(results)
    ]
  )
}

export function summaryTable (summaries: ScenarioSummary[]): string {
  return markdownTable(
    ['scenario', 'runs', 'req/s', 'server CPU µs/req', 'p50 ms', 'p97.5 ms', 'p99 ms', 'errors', 'timeouts', 'non-2xx', 'peak RSS MB'],
    summaries.map(s => [
      s.scenario.name,
      String(s.runs),
      integer(s.requestsPerSec),
      cpuPerRequest(s.serverCpuUsPerRequest),
      ms(s.latencyP50),
      ms(s.latencyP97_5),
      ms(s.latencyP99),
      String(s.errors),
      String(s.timeouts),
      String(s.non2xx),
      megabytes(s.peakRssKb)
    ])
  )
}

export function runTable (results: RunResult[]): string {
  return markdownTable(
    ['round', 'scenario', 'req/s', 'server CPU µs/req', 'p50 ms', 'p97.5 ms', 'p99 ms', 'errors', 'timeouts', 'non-2xx', 'peak RSS MB', 'log MB'],
    results.map(r => [
      String(r.round),
      r.scenario + (problemsOf(r) ? ' ⚠' : ''),
      integer(r.requestsPerSec),
      cpuPerRequest(r.serverCpuUsPerRequest),
      ms(r.latencyP50),
      ms(r.latencyP97_5),
      ms(r.latencyP99),
      String(r.errors),
      String(r.timeouts),
      String(r.non2xx),
      megabytes(r.peakRssKb),
      (r.logBytes / 1_048_576).toFixed(1)
    ])
  )
}

/** bench/RESULTS.md */
export function resultsMarkdown (report: Report): string {
  const { environment: env, settings } = report
  const problems = report.results
    .map(r => ({ r, problem: problemsOf(r) }))
    .filter(p => p.problem !== undefined)
    .map(({ r, problem }) => `- **${r.scenario}, round ${r.round}: ${problem}**`)
  return [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (see bench/README.md). Absolute req/s on this shared machine swing widely from one',
    'minute to the next; the ratios, taken between runs of the same round, are the figures to quote.',
    '',
    `- date: ${env.date}`,
    `- commit: ${env.commit}`,
    `- machine: ${env.cpus} CPUs (nproc), ${env.cpuModel}, ${env.platform}; ` +
      `load average (1, 5, 15 min) ${env.loadAverageAtStart} at start, ${report.loadAverageAtEnd} at end`,
    `- Node ${env.node}, PostgreSQL ${env.postgres}`,
    `- method: ${settings.pairs} rounds; each round runs every scenario once in order, each on a fresh server process: ` +
      `${settings.warmupS} s warm-up, then ${settings.durationS} s measured, autocannon with ${settings.connections} connections. ` +
      'A ratio is computed within each round; the median of the rounds is quoted with its range (min–max).',
    ...(settings.only.length > 0 ? [`- only scenarios matching: ${settings.only.join(', ')}`] : []),
    `- total runtime: ${Math.round(report.totalSeconds)} s`,
    '',
    ...(report.notes.length > 0 ? ['## Notes', '', ...report.notes.map(note => `- **${note}**`), ''] : []),
    ...(problems.length > 0
      ? ['## ⚠ Errors or non-2xx responses: the runs below are not valid', '', ...problems, '']
      : []),
    '## Ratios',
    '',
    'Every ratio is numerator ÷ denominator of req/s (or of peak RSS where it says so), taken within one round;',
    'bench/README.md says exactly what each side runs.',
    '',
    ratioTable(report.ratios, report.results),
    '',
    '## Scenarios (median of the rounds; errors summed; highest peak RSS)',
    '',
    summaryTable(report.summaries),
    '',
    '## Every run',
    '',
    'Latency in milliseconds; req/s is autocannon\'s average of per-second samples; server CPU µs/req is the CPU time',
    '(user + system, from /proc) the server process used during the measured run divided by the requests it answered:',
    'steadier than req/s when the load generator shares the cores; peak RSS is the server process\'s VmHWM at the end',
    'of its run; log MB is what the server wrote to stdout (its logs) during the run.',
    '',
    runTable(report.results),
    ''
  ].join('\n')
}
