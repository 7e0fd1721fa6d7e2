import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createSql } from '../src/db/client.ts'

/** The runtime role's connection pool (row-level security applies to it), closed on shutdown. */
async function postgresPlugin (app: FastifyInstance): Promise<void> {
  const sql = createSql(app.config.DATABASE_URL, { max: app.config.DATABASE_POOL_MAX })
  app.decorate('sql', sql)
  app.addHook('onClose', async () => {
    await sql.end({ timeout: 5 })
  })
}

export default fp(postgresPlugin, { name: 'postgres', fastify: '5.x' })
