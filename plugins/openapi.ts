import fp from 'fastify-plugin'
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

const documented = (url: string) => url.startsWith('/v1/') || url === '/healthz' || url === '/readyz'

const capitalized = (word: string) => word.charAt(0).toUpperCase() + word.slice(1)
const camelCase = (text: string) => text.split(/[-_]/).filter(Boolean).map(capitalized).join('')

/**
 * A stable operationId from the method and the documented path, the version prefix left out:
 * `GET /v1/articles/:id` → `getArticlesById`, `POST /v1/articles/:id/publish` →
 * `postArticlesByIdPublish`. It changes only when the route does; a route may set its own.
 */
export function operationIdOf (method: string, url: string): string {
  const words = url.split('/').filter(segment => segment !== '' && segment !== 'v1')
    .map(segment => segment.startsWith(':') ? `By${camelCase(segment.slice(1))}` : camelCase(segment))
  return method.toLowerCase() + words.join('')
}

/**
 * The OpenAPI 3.1 document, generated from the route schemas (@fastify/swagger), at
 * /openapi.json, and a browsable page of it at /docs (@fastify/swagger-ui). Every /v1 route,
 * /healthz and /readyz are in it; tenant-scoped routes show the X-Tenant header, authenticated
 * ones the bearer scheme, public ones `security: []`; every operation has an operationId (the
 * typed client's method names; operationIdOf). It passes `redocly lint` (recommended rules):
 * test/openapi-lint.test.ts.
 */
async function openapiPlugin (app: FastifyInstance): Promise<void> {
  // the docs page and its assets need no token
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.url === '/docs' || route.url.startsWith('/docs/')) {
      route.config = { ...route.config, public: true }
    }
  })

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Atrium API',
        version: '1.0.0',
        description: 'Multi-tenant SaaS API. Errors are application/problem+json (RFC 9457) with a stable `code`.',
        license: { name: 'Proprietary (UNLICENSED): not licensed for use outside its owner' }
      },
      // relative: the host that serves this document (behind nginx, or npm start's 127.0.0.1:3000)
      servers: [{ url: '/', description: 'the server this document is served from' }],
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } }
      }
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transform: ({ schema, url: routeUrl, route }) => {
      // a folder's index route is registered as both /v1/articles and /v1/articles/: document the first
      const url = routeUrl.length > 1 && routeUrl.endsWith('/') ? routeUrl.slice(0, -1) : routeUrl
      const transformed: FastifySchema & { hide?: boolean, security?: unknown, headers?: unknown, operationId?: string } = { ...(schema ?? {}) }
      if (!documented(url)) return { schema: { ...transformed, hide: true }, url }
      const config = route.config ?? {}
      // public operations say so (an empty requirement), not by leaving security out
      transformed.security = config.public === true ? [] : [{ bearerAuth: [] }]
      transformed.operationId ??= operationIdOf(String(route.method), url)
      if (config.tenant === true && transformed.headers === undefined) {
        transformed.headers = {
          type: 'object',
          properties: { 'x-tenant': { type: 'string', description: 'tenant slug or id (or use a tenant subdomain or a tenant-bound token)' } }
        }
      }
      return { schema: transformed, url }
    }
  })

  // its Content-Security-Policy, with every other security header, comes from plugins/security.ts
  await app.register(swaggerUi, { routePrefix: '/docs' })

  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger())
}

export default fp(openapiPlugin, { name: 'openapi', fastify: '5.x', dependencies: ['errors', 'security-headers'] })
