import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import { createSql } from '../src/platform/db/client.ts'
import { missingProgram, runCommand } from './command.ts'
import { prepareBenchDatabase, type BenchDatabase } from './database.ts'
import { fixtures, prepareFixtures, signedUsers } from './fixtures.ts'
import { markdownTable } from './report.ts'
import { BENCH_TAG } from './requests.ts'
import { atrium } from './atrium-server.ts'
import { BenchError } from './settings.ts'
import { median } from './stats.ts'
import type { BenchContext } from './types.ts'

/**
 * `npm run bench:sql`: every hot tenant read of the app, as the app sends it (one statement that
 * scopes itself, Database.read), against its plain statement, in pgbench. The statements are not
 * written here: the app is built in this process and each read route is called once through it,
 * with postgres.js's debug hook recording the statement and its parameters; the plain statement is
 * the same read without the scoping around it. Then, in interleaved rounds, pgbench runs the plain
 * one as the owner (a superuser: no row-level security) and the scoped one as the runtime role
 * (row-level security applies), `-M prepared -c 10 -j 2`, and the ratio of their tps is taken per
 * round; the median of the rounds is quoted. Writes bench/RESULTS-sql.md.
 */

const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const scratchDir = join(repoRoot, 'bench', '.tmp', 'sql')
const TARGET = 0.9
const CLIENTS = 10
const THREADS = 2
const AUDIT_ENTRIES_PER_TENANT = 500
const say = (message: string): void => { process.stdout.write(`bench:sql: ${message}\n`) }

function positive (name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1 || value > 600) throw new BenchError(`${name}: expected a whole number of 1 to 600, got '${raw}'`)
  return value
}

interface Statement { text: string, parameters: unknown[] }
interface Read { name: string, url: string, scoped: Statement, plain: Statement }

/** The reads measured: each route once, as the owner of the large tenant `acme` (every permission). */
function readRoutes (): Array<{ name: string, url: (articleId: string, authorId: string, page5: string) => string }> {
  return [
    { name: 'article by id', url: id => `/v1/articles/${id}` },
    { name: 'article list', url: () => '/v1/articles?limit=20' },
    { name: 'article list, status', url: () => '/v1/articles?limit=20&status=published' },
    { name: 'article list, tag', url: () => `/v1/articles?limit=20&tag=${BENCH_TAG}` },
    { name: 'article list, author', url: (_id, author) => `/v1/articles?limit=20&author_id=${author}` },
    { name: 'article list, status + tag + author', url: (_id, author) => `/v1/articles?limit=20&status=draft&tag=${BENCH_TAG}&author_id=${author}` },
    { name: 'article list, page 5', url: (_id, _author, page5) => `/v1/articles?limit=20&cursor=${page5}` },
    { name: 'article list, tag, page 5', url: (_id, _author, page5) => `/v1/articles?limit=20&tag=${BENCH_TAG}&cursor=${page5}` },
    { name: 'member list', url: () => '/v1/members?limit=20' },
    { name: 'audit list', url: () => '/v1/audit-log?limit=20' },
    { name: 'subscription', url: () => '/v1/subscription' }
  ]
}

const SCOPED = /^select r\.\* from \(select set_config\('app\.tenant_id', \$1, true\).*?\) s\s+cross join lateral \(select \* from \(([\s\S]*)\) q where s\.tenant is not null offset 0\) r$/

/** The read without the scoping around it: its text, parameters renumbered from $1. */
function plainOf (scoped: Statement): Statement {
  const inner = SCOPED.exec(scoped.text)?.[1]
  if (inner === undefined) throw new BenchError(`not a scoped read: ${scoped.text.slice(0, 200)}`)
  return { text: inner.replace(/\$(\d+)/g, (_m, n: string) => `$${Number(n) - 2}`), parameters: scoped.parameters.slice(2) }
}

/** Audit entries and a subscription for every bench tenant: the audit and subscription reads need rows. */
async function seedReadData (context: BenchContext): Promise<void> {
  const owner = createSql(context.ownerUrl, { max: 1 })
  try {
    for (const tenant of fixtures().tenants) {
      const actor = tenant.users[0]?.id ?? null
      await owner`insert into audit_log (tenant_id, actor_id, action, object_type, object_id, changes)
        select ${tenant.id}, ${actor}, 'updated', 'article', ${tenant.articleIds[0] ?? ''}, '{"title": ["a", "b"]}'::jsonb
        from generate_series(1, ${AUDIT_ENTRIES_PER_TENANT})`
      await owner`insert into subscriptions (tenant_id, subscription_id, plan, status, current_period_end, last_event_created, last_event_id)
        values (${tenant.id}, ${`sub_${tenant.slug}`}, 'pro', 'active', now() + interval '30 days', now(), ${`evt_${tenant.slug}`})
        on conflict (tenant_id) do nothing`
    }
    await owner`vacuum (analyze) audit_log, subscriptions`
  } finally {
    await owner.end({ timeout: 5 })
  }
}

/** Builds the app in this process and records the one statement each read route sends. */
async function captureReads (context: BenchContext): Promise<Read[]> {
  // load shedding off: seeding just kept the event loop busy, and only one request runs at a time here
  const app = await buildApp(loadConfig({ ...atrium.env?.(context), LOG_LEVEL: 'silent', MAX_EVENT_LOOP_DELAY_MS: '0' }))
  try {
    type DebugHook = (connection: number, query: string, parameters: unknown[]) => void
    const poolOptions = app.sql.options as unknown as { debug: boolean | DebugHook }
    const acme = fixtures().tenants[0]
    const owner = signedUsers(context).find(user => user.tenantId === acme?.id && user.role === 'owner')
    const author = acme?.users.find(user => user.role === 'editor')
    if (acme === undefined || owner === undefined || author === undefined) throw new BenchError('the bench fixtures have no owner and editor in acme')
    const reads: Read[] = []
    for (const route of readRoutes()) {
      const url = route.url(acme.articleIds[0] ?? '', author.id, acme.page5Cursor)
      // once to warm the caches (token, user, tenant, membership), once recorded
      await app.inject({ method: 'GET', url, headers: { authorization: owner.authorization } })
      const statements: Statement[] = []
      poolOptions.debug = (_connection, text, parameters) => {
        if (!/ from feature_flags\b/.test(text)) statements.push({ text: text.trim(), parameters })
      }
      const response = await app.inject({ method: 'GET', url, headers: { authorization: owner.authorization } })
      poolOptions.debug = false
      if (response.statusCode !== 200) throw new BenchError(`${url}: ${response.statusCode} ${response.body}`)
      if (statements.length !== 1) throw new BenchError(`${url} sent ${statements.length} statements, not one`)
      const scoped = statements[0] as Statement
      reads.push({ name: route.name, url, scoped, plain: plainOf(scoped) })
    }
    return reads
  } finally {
    await app.close()
  }
}

/** Both forms return the same rows, and some: a scoped read that found nothing would measure nothing. */
async function checkSameRows (context: BenchContext, reads: Read[]): Promise<void> {
  const owner = createSql(context.ownerUrl, { max: 1 })
  const runtime = createSql(context.runtimeUrl, { max: 1 })
  try {
    for (const read of reads) {
      const plain = await owner.unsafe(read.plain.text, read.plain.parameters as never[])
      const scoped = await runtime.unsafe(read.scoped.text, read.scoped.parameters as never[])
      if (plain.length === 0 || JSON.stringify(plain) !== JSON.stringify(scoped)) {
        throw new BenchError(`${read.name}: the plain statement gave ${plain.length} rows, the scoped one ${scoped.length}, or other rows`)
      }
    }
  } finally {
    await Promise.all([owner.end({ timeout: 5 }), runtime.end({ timeout: 5 })])
  }
}

const textOf = (value: unknown): string => value instanceof Date ? value.toISOString() : String(value)

/** pgbench's form of a statement: `$n` becomes `:pn`, each value a -D define (sent as a parameter with -M prepared). */
function pgbenchScript (statement: Statement, file: string): string[] {
  writeFileSync(file, `${statement.text.replace(/\$(\d+)/g, ':p$1').replace(/\s+/g, ' ')};\n`)
  return [...statement.parameters.flatMap((value, i) => ['-D', `p${i + 1}=${textOf(value)}`]), '-f', file]
}

async function pgbenchTps (url: string, script: string[], seconds: number): Promise<number> {
  const args = ['-n', '-c', String(CLIENTS), '-j', String(THREADS), '-T', String(seconds), '-M', 'prepared', ...script, url]
  const { code, stdout, stderr } = await runCommand('pgbench', args, seconds * 1000 + 30_000)
  const tps = Number(/^tps = ([\d.]+)/m.exec(stdout)?.[1])
  const failed = Number(/^number of failed transactions: (\d+)/m.exec(stdout)?.[1] ?? 0)
  if (code !== 0 || !Number.isFinite(tps) || failed > 0) throw new BenchError(`pgbench failed (exit ${String(code)}, ${failed} failed):\n${stdout}\n${stderr}`)
  return tps
}

interface Outcome { read: Read, plainTps: number[], scopedTps: number[], ratios: number[] }

async function main (): Promise<number> {
  const missing = missingProgram('pgbench')
  if (missing !== undefined) throw new BenchError(`${missing}: install the Debian package postgresql-client-15`)
  const durationS = positive('BENCH_DURATION', 5)
  const warmupS = positive('BENCH_WARMUP', 1)
  const rounds = positive('BENCH_PAIRS', 3)
  const reads = readRoutes().length
  say(`${reads} reads × 2 forms × ${rounds} rounds of ${warmupS} s warm-up + ${durationS} s: about ${Math.ceil(reads * 2 * rounds * (warmupS + durationS + 1) / 60)} min, plus seeding`)
  rmSync(scratchDir, { recursive: true, force: true })
  mkdirSync(scratchDir, { recursive: true })
  let database: BenchDatabase | undefined
  try {
    database = await prepareBenchDatabase(say)
    const context: BenchContext = {
      ownerUrl: database.ownerUrl,
      runtimeUrl: database.runtimeUrl,
      redisUrl: 'redis://127.0.0.1:6379',
      redisPrefix: 'atrium-bench-sql:',
      // no scenario of this script traces: the app built here reads no OTLP endpoint from it
      otlpUrl: '',
      secrets: { jwt: randomBytes(32).toString('hex'), paymentsWebhook: randomBytes(24).toString('hex') }
    }
    await prepareFixtures(context, message => say(`  ${message}`))
    await seedReadData(context)
    const captured = await captureReads(context)
    await checkSameRows(context, captured)
    say(`recorded ${captured.length} statements from the app; plain and scoped forms return the same rows`)

    const outcomes: Outcome[] = captured.map(read => ({ read, plainTps: [], scopedTps: [], ratios: [] }))
    const loadAtStart = loadavg().map(l => l.toFixed(2)).join(' ')
    for (let round = 1; round <= rounds; round++) {
      for (const [i, outcome] of outcomes.entries()) {
        const plain = pgbenchScript(outcome.read.plain, join(scratchDir, `plain-${i}.sql`))
        const scoped = pgbenchScript(outcome.read.scoped, join(scratchDir, `scoped-${i}.sql`))
        await pgbenchTps(context.ownerUrl, plain, warmupS)
        const plainTps = await pgbenchTps(context.ownerUrl, plain, durationS)
        await pgbenchTps(context.runtimeUrl, scoped, warmupS)
        const scopedTps = await pgbenchTps(context.runtimeUrl, scoped, durationS)
        outcome.plainTps.push(plainTps)
        outcome.scopedTps.push(scopedTps)
        outcome.ratios.push(scopedTps / plainTps)
        say(`round ${round}/${rounds} ${outcome.read.name}: plain ${Math.round(plainTps)} tps, scoped ${Math.round(scopedTps)} tps, ${(scopedTps / plainTps).toFixed(2)}`)
      }
    }

    const rows = outcomes.map(o => {
      const ratio = median(o.ratios)
      return [o.read.name, Math.round(median(o.plainTps)).toLocaleString('en-US'), Math.round(median(o.scopedTps)).toLocaleString('en-US'),
        ratio.toFixed(2), `${Math.min(...o.ratios).toFixed(2)}–${Math.max(...o.ratios).toFixed(2)}`, `>= ${TARGET}`, ratio >= TARGET ? 'pass' : '**FAIL**']
    })
    const table = markdownTable(['read', 'plain tps', 'scoped tps', 'ratio', 'range', 'target', 'result'], rows)
    const statements = outcomes.map(o => `### ${o.read.name}\n\n\`GET ${o.read.url}\`\n\n\`\`\`sql\n${o.read.scoped.text}\n\`\`\``).join('\n\n')
    writeFileSync(join(repoRoot, 'bench', 'RESULTS-sql.md'), `# SQL reads: scoped statement ÷ plain statement (pgbench)

Written by \`npm run bench:sql\` (bench/sql.ts). Each read is the statement the app sent for the route (recorded
through postgres.js's debug hook), run as the runtime role with row-level security, against the same read without
the scoping, run as the owner (superuser: no RLS); pgbench \`-M prepared -c ${CLIENTS} -j ${THREADS}\`, ${warmupS} s
warm-up and ${durationS} s measured per run, plain then scoped, ${rounds} interleaved rounds; ratio of tps per round,
median quoted with its range. Tenant \`acme\`: 10,000 articles.

- date: ${new Date().toISOString()}
- machine: ${availableParallelism()} CPUs; load average ${loadAtStart} at start, ${loadavg().map(l => l.toFixed(2)).join(' ')} at end
- PostgreSQL ${database.serverVersion}

${table}

## The statements (scoped form; the plain form is the subquery)

${statements}
`)
    process.stdout.write(`\n${table}\n\n`)
    say('wrote bench/RESULTS-sql.md')
    return 0
  } finally {
    rmSync(scratchDir, { recursive: true, force: true })
    await database?.release()
  }
}

try {
  process.exitCode = await main()
} catch (error) {
  process.stderr.write(`bench:sql: ${error instanceof BenchError ? error.message : (error as Error).stack ?? String(error)}\n`)
  process.exitCode = 1
}
