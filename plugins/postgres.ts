import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createSql } from '../src/db/client.ts'
import { Database } from '../src/db/database.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** the runtime role's pool (row-level security applies to it) */
    sql: import('postgres').Sql
    /** the tenant- and deadline-aware way services reach PostgreSQL */
    db: Database
  }
}

/** The runtime role's connection pool, wrapped in the Database data path, closed on shutdown. */
async function postgresPlugin (app: FastifyInstance): Promise<void> {
  const sql = createSql(app.config.DATABASE_URL, { max: app.config.DATABASE_POOL_MAX })
  app.decorate('sql', sql)
  app.decorate('db', new Database(sql, {
    log: app.log as unknown as import('../src/logger.ts').Logger,
    slowQueryMs: app.config.SLOW_QUERY_MS,
    lockTimeoutMs: app.config.LOCK_TIMEOUT_MS,
    defaultBudgetMs: app.config.DATABASE_STATEMENT_TIMEOUT_MS
  }))
  app.addHook('onClose', async () => {
    await sql.end({ timeout: 5 })
  })
}

export default fp(postgresPlugin, { name: 'postgres', fastify: '5.x' })
