import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ARTICLE_VIEW_SELECT } from '../src/features/articles/article-row.ts'
import { missingProgram, runCommand } from './command.ts'
import { fixtures, prepareFixtures } from './fixtures.ts'
import { median } from './stats.ts'
import { BenchError } from './settings.ts'
import type { BenchContext, CommandRun, CommandScenario, Measurement } from './types.ts'

const CLIENTS = 10
const THREADS = 2
/** articles per tenant in the sample: 10 tenants × 10 = 100 scripts (pgbench takes at most 128) */
const SAMPLE_PER_TENANT = 10
/** a tenth of the transactions logged with their latency: enough for p99, light on the disk */
const SAMPLING_RATE = 0.1
const START_AND_STOP_ALLOWANCE_MS = 30_000

/**
 * The single-row query of the bare baseline and of the article read: the article with its author's name,
 * `where a.tenant_id = $1 and a.id = $2` (pgbench sends :t<n> and :i<n> as parameters with -M prepared).
 */
const articleQuery = (n: number): string =>
  `${ARTICLE_VIEW_SELECT} where a.tenant_id = :t${n} and a.id = :i${n};\n`

interface Pair { tenantId: string, articleId: string }

function samplePairs (): Pair[] {
  return fixtures().tenants.flatMap(tenant => {
    const ids = [...tenant.articleIds].sort(() => Math.random() - 0.5).slice(0, SAMPLE_PER_TENANT)
    return ids.map(articleId => ({ tenantId: tenant.id, articleId }))
  })
}

interface PgbenchFigures {
  exitCode: number | null
  tps: number
  processed: number
  failed: number
  output: string
}

function figuresOf (code: number | null, stdout: string, stderr: string): PgbenchFigures {
  const number = (pattern: RegExp): number => {
    const match = pattern.exec(stdout)
    return match?.[1] === undefined ? Number.NaN : Number(match[1])
  }
  const failed = number(/^number of failed transactions: (\d+)/m)
  return {
    exitCode: code,
    tps: number(/^tps = ([\d.]+)/m),
    processed: number(/^number of transactions actually processed: (\d+)/m),
    failed: Number.isNaN(failed) ? 0 : failed,
    output: `${stdout.split('\nSQL script 1:')[0] ?? ''}\n${stderr}`.trim()
  }
}

/** Transaction latencies (ms) from pgbench's per-transaction logs: the 3rd field is µs. */
function latenciesMs (dir: string): number[] {
  const latencies: number[] = []
  for (const file of readdirSync(dir).filter(f => f.startsWith('log.'))) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      const micros = Number(line.split(' ', 3)[2])
      if (line !== '' && Number.isFinite(micros)) latencies.push(micros / 1000)
    }
  }
  return latencies.sort((a, b) => a - b)
}

const percentile = (sorted: number[], p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number

async function pgbench (context: BenchContext, dir: string, durationS: number, scriptArgs: string[], defines: string[], logged: boolean): Promise<PgbenchFigures> {
  const args = [
    '-n', '-c', String(CLIENTS), '-j', String(THREADS), '-T', String(durationS), '-M', 'prepared',
    ...(logged ? ['-l', `--sampling-rate=${SAMPLING_RATE}`, `--log-prefix=${join(dir, 'log')}`] : []),
    ...defines, ...scriptArgs, context.ownerUrl
  ]
  const { code, stdout, stderr } = await runCommand('pgbench', args, durationS * 1000 + START_AND_STOP_ALLOWANCE_MS)
  const figures = figuresOf(code, stdout, stderr)
  if (!Number.isFinite(figures.tps)) throw new BenchError(`pgbench gave no tps (exit ${String(code)}):\n${figures.output}`)
  return figures
}

async function measure (context: BenchContext, run: CommandRun): Promise<Measurement> {
  const dir = join(run.scratchDir, 'pgbench')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  try {
    const pairs = samplePairs()
    const scriptArgs: string[] = []
    const defines: string[] = []
    pairs.forEach((pair, i) => {
      const script = join(dir, `article-${i + 1}.sql`)
      writeFileSync(script, articleQuery(i + 1))
      scriptArgs.push('-f', `${script}@1`)
      defines.push('-D', `t${i + 1}=${pair.tenantId}`, '-D', `i${i + 1}=${pair.articleId}`)
    })
    const warmup = run.warmupS > 0 ? await pgbench(context, dir, run.warmupS, scriptArgs, defines, false) : undefined
    const figures = await pgbench(context, dir, run.durationS, scriptArgs, defines, true)
    const latencies = latenciesMs(dir)
    const aborted = figures.exitCode !== 0 ? 1 : 0
    if (aborted > 0) process.stderr.write(`bench: pgbench exited with ${String(figures.exitCode)}:\n${figures.output}\n`)
    return {
      requestsPerSec: figures.tps,
      totalRequests: figures.processed,
      latencyP50: median(latencies),
      latencyP97_5: percentile(latencies, 0.975),
      latencyP99: percentile(latencies, 0.99),
      errors: figures.failed + (figures.failed === 0 ? aborted : 0),
      timeouts: 0,
      non2xx: 0,
      badStatuses: {},
      peakRssKb: undefined,
      serverCpuUsPerRequest: undefined,
      logBytes: 0,
      warmupProblems: warmup === undefined ? 0 : warmup.failed + (warmup.exitCode !== 0 ? 1 : 0)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Baseline (d): PostgreSQL's own ceiling for the article-by-id query on this machine. pgbench
 * (postgresql-client) as the owner role, `-n -c 10 -j 2 -T <BENCH_DURATION> -M prepared`, one
 * script per sampled (tenant, article) pair, picked at random per transaction; tps is its figure.
 */
export const pgbenchArticleById: CommandScenario = {
  kind: 'command',
  name: 'pgbench article by id (same query)',
  setup: prepareFixtures,
  unavailable: () => {
    const missing = missingProgram('pgbench')
    return missing === undefined ? undefined : `${missing}: install the Debian package postgresql-client-15 to get baseline (d)`
  },
  measure
}
