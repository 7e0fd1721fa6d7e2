import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { existsSync } from 'node:fs'
import t from 'tap'
import { Validator } from '@seriousme/openapi-schema-validator'
import { chromium } from 'playwright-core'
import { buildTestApp } from './helpers/app.ts'

const { app } = await buildTestApp(t)

interface OpenApiDocument {
  openapi: string
  paths: Record<string, Record<string, { summary?: string, tags?: string[], responses?: Record<string, unknown>, security?: unknown }>>
}

const response = await app.inject({ method: 'GET', url: '/openapi.json' })
const document = response.json() as OpenApiDocument

t.test('the document is valid OpenAPI 3.1', async tt => {
  tt.equal(response.statusCode, 200)
  tt.equal(document.openapi, '3.1.0')
  const validator = new Validator()
  const result = await validator.validate(document as unknown as Parameters<Validator['validate']>[0])
  tt.ok(result.valid, `valid: ${JSON.stringify(result.errors)?.slice(0, 2000)}`)
})

t.test('it lists every /v1 route, /healthz and /readyz, each with a summary, tags and error responses', async tt => {
  const expected = app.routeTable.filter(r => r.method !== 'HEAD' && (r.url.startsWith('/v1/') || r.url === '/healthz' || r.url === '/readyz'))
  tt.ok(expected.length > 15, `${expected.length} routes to document`)
  for (const route of expected) {
    const path = route.url.replace(/:(\w+)/g, '{$1}')
    const operation = document.paths[path]?.[route.method.toLowerCase()]
    tt.ok(operation, `${route.method} ${route.url} is documented`)
    if (operation === undefined) continue
    tt.ok(operation.summary, `${route.method} ${route.url} has a summary`)
    tt.ok(operation.tags?.length, `${route.method} ${route.url} has tags`)
    tt.ok(Object.keys(operation.responses ?? {}).some(code => code.startsWith('4')), `${route.method} ${route.url} documents its errors`)
    tt.same(operation.security, route.config.public === true ? [] : [{ bearerAuth: [] }], `${route.method} ${route.url}: security matches public`)
  }
  tt.notOk(Object.keys(document.paths).some(p => p.startsWith('/docs') || p === '/openapi.json' || p === '/metrics'), 'tooling routes are hidden')
})

const browserPath = '/usr/bin/chromium'
t.test('the /docs page shows the articles operations in a real browser', { skip: existsSync(browserPath) ? false : 'chromium is not installed' }, async tt => {
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  // playwright gives the browser a fresh temporary profile of its own
  const browser = await chromium.launch({
    executablePath: browserPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync']
  })
  tt.teardown(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`${address}/docs`, { waitUntil: 'networkidle', timeout: 30_000 })
  await page.getByText('/v1/articles/{id}/publish').first().waitFor({ timeout: 15_000 })
  const text = await page.textContent('body') ?? ''
  tt.match(text, /Atrium API/)
  for (const operation of ['/v1/articles', '/v1/articles/{id}', '/v1/articles/{id}/schedule']) {
    tt.ok(text.includes(operation), `the page shows ${operation}`)
  }
  await page.screenshot({ path: join(tmpdir(), 'atrium-docs.png') })
})
