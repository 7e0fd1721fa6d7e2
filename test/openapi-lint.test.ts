import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { buildTestApp } from './helpers/app.ts'
import { repoRoot } from './helpers/paths.ts'

/**
 * `redocly lint` of /openapi.json, as a user's CI would run it: the recommended rules, as
 * redocly.yaml in the repository adjusts them (one rule off, with its reason). Offline: the
 * config turns telemetry off.
 */
const run = promisify(execFile)
const { app } = await buildTestApp(t)

interface LintReport {
  totals: { errors: number, warnings: number, ignored: number }
  problems: Array<{ ruleId: string, message: string, location: Array<{ pointer?: string }> }>
}

t.test('/openapi.json passes redocly lint with no error and no warning', async tt => {
  const response = await app.inject({ method: 'GET', url: '/openapi.json' })
  tt.equal(response.statusCode, 200)
  const dir = await mkdtemp(join(tmpdir(), 'atrium-openapi-'))
  tt.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'openapi.json')
  await writeFile(file, response.body)

  // exit code 1 when there are errors: the report on stdout says which either way
  const { stdout } = await run(join(repoRoot, 'node_modules/.bin/redocly'), ['lint', file, '--format=json'], {
    cwd: repoRoot,
    env: { ...process.env, REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    maxBuffer: 16 * 1024 * 1024
  }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }))
  const report = JSON.parse(stdout) as LintReport
  const problems = report.problems.map(p => `${p.ruleId}: ${p.message} (${p.location[0]?.pointer ?? '?'})`)
  tt.same(report.totals, { errors: 0, warnings: 0, ignored: 0 }, problems.slice(0, 20).join('\n'))
})

t.test('every operation has a unique operationId; public ones declare security: []', async tt => {
  const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
    paths: Record<string, Record<string, { operationId?: string, security?: unknown[] }>>
  }
  const ids = Object.values(document.paths).flatMap(operations => Object.values(operations).map(op => op.operationId))
  tt.ok(ids.length > 25, `${ids.length} operations`)
  tt.ok(ids.every(id => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id)), 'each a camelCase word')
  tt.equal(new Set(ids).size, ids.length, 'no two alike')
  tt.equal(document.paths['/v1/articles/{id}']?.get?.operationId, 'getArticlesById', 'made from method and path')
  tt.same(document.paths['/v1/auth/login']?.post?.security, [], 'login is public: security []')
  tt.same(document.paths['/v1/articles']?.get?.security, [{ bearerAuth: [] }], 'articles need the bearer token')
})
