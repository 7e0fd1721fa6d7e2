import Fastify, { type FastifyPluginAsync } from 'fastify'
import { createSql } from '../../src/platform/db/client.ts'
import { decodeCursor, page } from '../../src/platform/pagination.ts'
import { ArticleEnvelope, ArticleList } from '../../src/features/articles/schemas.ts'
import { selectArticleView, toArticle, type ArticleRow } from '../../src/features/articles/article-row.ts'
import { serveForBench } from './serve.ts'

/**
 * The baseline: the same Fastify as Atrium, logger off, no plugins. Each route answers with a
 * response schema, as Atrium's routes do, so both serialize through fast-json-stringify.
 * With BARE_DATABASE_URL set (the owner role: no row-level security), it also serves the articles
 * routes as plain postgres.js queries: no auth, no tenant resolution, no transaction; the list takes
 * Atrium's `tag` filter and `cursor` and builds the same predicates.
 */
const helloRoute: FastifyPluginAsync = async (app) => {
  app.get('/hello', {
    schema: {
      response: {
        200: { type: 'object', properties: { hello: { type: 'string' } }, required: ['hello'] }
      }
    }
  }, async () => ({ hello: 'world' }))
}

const MAX_LIMIT = 100

function articlesRoutes (databaseUrl: string): FastifyPluginAsync {
  return async (app) => {
    // the pool Atrium gets by default (DATABASE_POOL_MAX), with the same driver settings
    const sql = createSql(databaseUrl, { max: 10, applicationName: 'atrium-bench-bare' })
    app.addHook('onClose', async () => { await sql.end({ timeout: 5 }) })
    const tenantOf = (headers: Record<string, unknown>): string => String(headers['x-tenant-id'])

    app.get<{ Params: { id: string } }>('/articles/:id', {
      schema: { response: { 200: ArticleEnvelope } }
    }, async (request, reply) => {
      const [row] = await sql<ArticleRow[]>`
        ${selectArticleView(sql)}
        where a.tenant_id = ${tenantOf(request.headers)} and a.id = ${request.params.id}`
      if (row === undefined) return reply.code(404).send()
      return { article: toArticle(row) }
    })

    app.get<{ Querystring: { limit?: string, tag?: string, cursor?: string } }>('/articles', {
      schema: { response: { 200: ArticleList } }
    }, async (request) => {
      const limit = Math.min(MAX_LIMIT, Math.max(1, Number(request.query.limit ?? 20) || 20))
      const { tag, cursor } = request.query
      const after = cursor === undefined ? undefined : decodeCursor(cursor)
      const rows = await sql<ArticleRow[]>`
        ${selectArticleView(sql)}
        where a.tenant_id = ${tenantOf(request.headers)}
          ${tag === undefined ? sql`` : sql`and a.tags @> array[${tag}::text]`}
          ${after === undefined ? sql`` : sql`and (a.created_at, a.id) < (${after[0]}::timestamptz, ${after[1]}::uuid)`}
        order by a.created_at desc, a.id desc
        limit ${limit + 1}`
      const result = page(rows, limit, row => [row.created_at.toISOString(), row.id])
      return { data: result.data.map(toArticle), next_cursor: result.next_cursor }
    })
  }
}

/** Every bare route; a baseline for a new Atrium route is one more plugin here. */
const routes: FastifyPluginAsync[] = [helloRoute]
const databaseUrl = process.env.BARE_DATABASE_URL
if (databaseUrl !== undefined && databaseUrl !== '') routes.push(articlesRoutes(databaseUrl))

const app = Fastify({ logger: false })
for (const route of routes) await app.register(route)
await serveForBench(app)
