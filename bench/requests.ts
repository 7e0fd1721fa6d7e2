import type autocannon from 'autocannon'
import { fixtures, signedUsers, tenantOf, type BenchTenant, type SignedUser } from './fixtures.ts'
import type { BenchContext } from './types.ts'

/**
 * The requests autocannon cycles through on every connection. Prebuilt (no setupRequest) wherever
 * the request needs no unique value, so the load generator, which shares the 2 CPUs with the
 * server, pays the same per request on both sides of a ratio.
 */

/** random draws per run: (token, article) pairs and (tenant, article) pairs */
const DRAWS = 2_000

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T

const authorized = (user: SignedUser): Record<string, string> => ({ authorization: user.authorization })

/** GET path once as every user of the pool (100 tokens across the 10 tenants). */
export function asEveryUser (path: string): (context: BenchContext) => autocannon.Request[] {
  return context => signedUsers(context).map(user => ({ method: 'GET', path, headers: authorized(user) }))
}

/** GET /v1/articles/:id: a random user, then a random article of that user's tenant. */
export function articleByIdAsMembers (context: BenchContext): autocannon.Request[] {
  const users = signedUsers(context)
  return Array.from({ length: DRAWS }, () => {
    const user = pick(users)
    return { method: 'GET', path: `/v1/articles/${pick(tenantOf(user).articleIds)}`, headers: authorized(user) }
  })
}

/** The bare baseline's tenant travels in a header: no auth, no tenant resolution. */
const bareTenantHeader = (tenantId: string): Record<string, string> => ({ 'x-tenant-id': tenantId })

/** bare GET /articles/:id: a random tenant, then a random article of it. */
export function bareArticleById (): autocannon.Request[] {
  const { tenants } = fixtures()
  return Array.from({ length: DRAWS }, () => {
    const tenant = pick(tenants)
    return { method: 'GET', path: `/articles/${pick(tenant.articleIds)}`, headers: bareTenantHeader(tenant.id) }
  })
}

/** A page of a list of 20: the first, the first with a tag filter, or page 5 (a cursor of the tenant's). */
export type ListPage = 'first' | 'tag' | 'page 5'
/** on 3 articles in 10 (src/seed.ts) */
export const BENCH_TAG = 'db'

const listQuery = (page: ListPage, tenant: BenchTenant): string =>
  page === 'first' ? 'limit=20' : page === 'tag' ? `limit=20&tag=${BENCH_TAG}` : `limit=20&cursor=${tenant.page5Cursor}`

/** bare GET /articles?…, every tenant in turn. */
export function bareListOfEveryTenant (page: ListPage): () => autocannon.Request[] {
  return () => fixtures().tenants.map(tenant => ({ method: 'GET', path: `/articles?${listQuery(page, tenant)}`, headers: bareTenantHeader(tenant.id) }))
}

/** GET /v1/articles?… as every user of the pool, each in their own tenant. */
export function listAsEveryUser (page: ListPage): (context: BenchContext) => autocannon.Request[] {
  return context => signedUsers(context).map(user => ({ method: 'GET', path: `/v1/articles?${listQuery(page, tenantOf(user))}`, headers: authorized(user) }))
}

let createdCount = 0

/** POST /v1/articles as every member who may write (owner, admin, editors), each with a unique title. */
export function createArticleAsWriters (context: BenchContext): autocannon.Request[] {
  const writers = signedUsers(context).filter(user => user.role !== 'viewer')
  return writers.map(user => ({
    method: 'POST',
    path: '/v1/articles',
    headers: { ...authorized(user), 'content-type': 'application/json' },
    setupRequest: request => {
      createdCount += 1
      return {
        ...request,
        body: JSON.stringify({
          title: `Bench article ${process.pid}-${createdCount}`,
          body: 'Written by npm run bench: one paragraph of body, as a short article has.',
          tags: ['perf', 'bench']
        })
      }
    }
  }))
}
