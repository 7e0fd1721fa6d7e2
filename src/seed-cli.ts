import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from './config.ts'
import { roles } from './features/tenancy/index.ts'
import { createSql } from './platform/db/client.ts'
import { Database } from './platform/db/database.ts'
import { ensureDatabase, migrate, requireOwnerUrl } from './platform/db/migrate.ts'
import { createLogger } from './platform/logger.ts'
import { DEMO_PASSWORD, demoEmail, seed } from './seed.ts'

/** `npm run seed [-- --articles 1000 --tenants 1]`: demo tenant `acme` (and more), one user per role. */
const { values } = parseArgs({
  options: {
    articles: { type: 'string', default: '1000' },
    tenants: { type: 'string', default: '1' }
  }
})
const articles = Number(values.articles)
const tenantCount = Number(values.tenants)
if (!Number.isInteger(articles) || articles < 0 || !Number.isInteger(tenantCount) || tenantCount < 1) {
  process.stderr.write('seed: --articles takes a whole number >= 0, --tenants one >= 1\n')
  process.exit(2)
}

try {
  const config = loadConfig()
  const say = (message: string) => process.stdout.write(`seed: ${message}\n`)
  if (config.NODE_ENV !== 'production') await ensureDatabase(requireOwnerUrl(config), say)
  await migrate({ ownerUrl: requireOwnerUrl(config), runtimeUrl: config.DATABASE_URL, statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS, log: say })
  const sql = createSql(config.DATABASE_URL, { max: 2 })
  const db = new Database(sql, { log: createLogger({ LOG_LEVEL: 'warn' }), slowQueryMs: 60_000, lockTimeoutMs: 10_000, defaultBudgetMs: 120_000 })
  const slugs = ['acme', ...Array.from({ length: tenantCount - 1 }, (_, i) => `tenant-${i + 2}`)]
  try {
    await seed(db, { tenants: slugs, articlesPerTenant: articles, progress: say })
  } finally {
    await sql.end()
  }
  say(`done. Log in as ${roles.map(role => demoEmail(role, 'acme')).join(', ')} with password ${DEMO_PASSWORD}`)
} catch (error) {
  process.stderr.write(`seed: ${error instanceof ConfigError ? error.message : String(error)}\n`)
  process.exitCode = 1
}
