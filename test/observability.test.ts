import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { buildTestApp } from './helpers/app.ts'
import { repoRoot } from './helpers/paths.ts'

// The Grafana dashboard and the Prometheus alert rules read Atrium's /metrics: every metric they
// query must be one a real app instance exports, and every dashboard query must be valid PromQL
// (promtool, from Debian's prometheus package, as .ci/run installs it). The rules themselves are
// checked and unit-tested by promtool in .ci/run.

const run = promisify(execFile)

interface Target { expr: string }
interface Panel { id: number, type: string, title: string, gridPos: { x: number, y: number, w: number, h: number }, targets?: Target[], datasource?: unknown }
interface Variable { name: string, query?: string | { query: string } }
interface Dashboard { uid: string, title: string, schemaVersion: number, panels: Panel[], templating: { list: Variable[] } }

const dashboardText = await readFile(join(repoRoot, 'deploy/grafana/atrium.json'), 'utf8')
const alertsText = await readFile(join(repoRoot, 'deploy/prometheus/alerts.yml'), 'utf8')

/** Each `expr:` of the rules file, one line or a block scalar (`expr: |`). */
function alertExpressions (yaml: string): string[] {
  const lines = yaml.split('\n')
  const expressions: string[] = []
  lines.forEach((line, index) => {
    const match = /^(\s*)expr:\s*(.*)$/.exec(line)
    if (match === null) return
    const [, indent = '', rest = ''] = match
    if (rest !== '|' && rest !== '>') { expressions.push(rest); return }
    const block: string[] = []
    for (const next of lines.slice(index + 1)) {
      if (next.trim() !== '' && next.length - next.trimStart().length <= indent.length) break
      block.push(next.trim())
    }
    expressions.push(block.join(' ').trim())
  })
  return expressions
}

const NOT_METRICS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan'])

/** The metric names an expression reads: identifiers left once strings, matchers, ranges, grouping and calls are set aside. */
export function metricNames (expression: string): string[] {
  const bare = expression
    .replace(/label_values\(\s*([^,)]+)[^)]*\)/g, '$1')
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ')
  const names: string[] = []
  for (const match of bare.matchAll(/(?<![\w.:])[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = bare.slice((match.index ?? 0) + match[0].length).trimStart()
    if (after.startsWith('(') || NOT_METRICS.has(match[0].toLowerCase())) continue
    names.push(match[0])
  }
  return names
}

function dashboardExpressions (dashboard: Dashboard): string[] {
  const panels = dashboard.panels.flatMap(panel => (panel.targets ?? []).map(target => target.expr))
  const variables = dashboard.templating.list.flatMap(variable =>
    variable.query === undefined || variable.name === 'datasource' ? [] : [typeof variable.query === 'string' ? variable.query : variable.query.query])
  return [...panels, ...variables]
}

/** The sample names a scrape can hold: each TYPE line's family, a histogram's _bucket, _sum and _count. */
function exportedNames (scrape: string): Set<string> {
  const names = new Set<string>()
  for (const match of scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = '', type] = match
    names.add(name)
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`)
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(`${name}${suffix}`)
  }
  return names
}

t.test('the expression reader finds metric names and nothing else', async tt => {
  tt.same(metricNames('histogram_quantile(0.99, sum by (route, le) (rate(atrium_http_request_duration_seconds_bucket{route=~"$route",le!="1e3"}[$__rate_interval]))) > 1e3'),
    ['atrium_http_request_duration_seconds_bucket'])
  tt.same(metricNames('a_total / on (instance) group_left b_max > 0.9 or avg_over_time(c[10m]) > 1 and up{job="atrium"} == 0'), ['a_total', 'b_max', 'c', 'up'])
  tt.same(metricNames('label_values(atrium_http_requests_total, instance)'), ['atrium_http_requests_total'])
})

t.test('the dashboard is a valid Grafana dashboard', async tt => {
  const dashboard = JSON.parse(dashboardText) as Dashboard
  tt.match(dashboard, { uid: String, title: 'Atrium', schemaVersion: Number })
  const ids = dashboard.panels.map(panel => panel.id)
  tt.equal(new Set(ids).size, ids.length, 'panel ids are unique')
  const graphs = dashboard.panels.filter(panel => panel.type !== 'row')
  for (const panel of graphs) {
    tt.ok(panel.targets !== undefined && panel.targets.length > 0 && panel.targets.every(target => target.expr.trim() !== ''), `${panel.title}: has queries`)
    tt.ok(panel.gridPos.x >= 0 && panel.gridPos.x + panel.gridPos.w <= 24, `${panel.title}: within the 24-column grid`)
  }
  const overlapping = dashboard.panels.flatMap((a, i) => dashboard.panels.slice(i + 1).filter(b =>
    a.gridPos.x < b.gridPos.x + b.gridPos.w && b.gridPos.x < a.gridPos.x + a.gridPos.w &&
    a.gridPos.y < b.gridPos.y + b.gridPos.h && b.gridPos.y < a.gridPos.y + a.gridPos.h).map(b => `${a.title} / ${b.title}`))
  tt.same(overlapping, [], 'no two panels overlap')

  // every query is valid PromQL: promtool checks them as recording rules, Grafana's variables replaced
  const dir = await mkdtemp(join(tmpdir(), 'atrium-dashboard-'))
  tt.teardown(() => rm(dir, { recursive: true, force: true }))
  const rules = graphs.flatMap(panel => panel.targets ?? []).map((target, index) => {
    const expr = target.expr.replaceAll('$__rate_interval', '5m').replace(/\$\w+/g, '.*')
    return `      - record: dashboard:query_${index}\n        expr: ${JSON.stringify(expr)}\n`
  })
  await writeFile(join(dir, 'dashboard.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules.join('')}`)
  const checked = await run('promtool', ['check', 'rules', join(dir, 'dashboard.yml')]).catch((error: { stdout?: string, stderr?: string, message: string }) => ({
    stdout: error.stdout ?? '', stderr: `${error.stderr ?? ''}${error.message}`
  }))
  tt.match(checked.stdout, `SUCCESS: ${rules.length} rules found`, `promtool accepts every panel query (${checked.stderr})`)
})

t.test('every metric the dashboard and the alert rules query is exported by /metrics', async tt => {
  const { app } = await buildTestApp(tt)
  const response = await app.inject({ method: 'GET', url: '/metrics' })
  tt.equal(response.statusCode, 200)
  // `up` is Prometheus's own series for each scrape target
  const exported = new Set([...exportedNames(response.body), 'up'])

  const dashboardMetrics = new Set(dashboardExpressions(JSON.parse(dashboardText) as Dashboard).flatMap(metricNames))
  const alertMetrics = new Set(alertExpressions(alertsText).flatMap(metricNames))
  tt.ok(alertExpressions(alertsText).length >= 8, 'the rules file\'s expressions are read')
  tt.same([...dashboardMetrics].filter(name => !exported.has(name)), [], 'the dashboard queries only exported metrics')
  tt.same([...alertMetrics].filter(name => !exported.has(name)), [], 'the alerts query only exported metrics')

  // what the issue asks the dashboard to show, each by the metric that carries it
  for (const name of [
    'atrium_http_requests_total', 'atrium_http_request_duration_seconds_bucket', 'nodejs_eventloop_lag_p99_seconds',
    'atrium_db_pool_in_use_connections', 'atrium_db_pool_waiting_calls', 'atrium_job_queue_jobs',
    'atrium_http_problems_total', 'atrium_load_shed_total', 'atrium_domain_events_total'
  ]) tt.ok(dashboardMetrics.has(name), `the dashboard shows ${name}`)
  for (const name of ['atrium_http_requests_total', 'atrium_http_request_duration_seconds_bucket', 'atrium_ready', 'atrium_job_queue_jobs', 'atrium_db_pool_in_use_connections']) {
    tt.ok(alertMetrics.has(name), `an alert reads ${name}`)
  }
})
