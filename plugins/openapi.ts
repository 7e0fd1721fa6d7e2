import fp from 'fastify-plugin'
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

const documented = (url: string) => url.startsWith('/v1/') || url === '/healthz' || url === '/readyz'

/**
 * The OpenAPI 3.1 document, generated from the route schemas (@fastify/swagger), at
 * /openapi.json, and a browsable page of it at /docs (@fastify/swagger-ui). Every /v1 route,
 * /healthz and /readyz are in it; tenant-scoped routes show the X-Tenant header, authenticated
 * ones the bearer scheme.
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
        description: 'Multi-tenant SaaS API. Errors are application/problem+json (RFC 9457) with a stable `code`.'
      },
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } }
      }
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transform: ({ schema, url: routeUrl, route }) => {
      // a folder's index route is registered as both /v1/articles and /v1/articles/: document the first
      const url = routeUrl.length > 1 && routeUrl.endsWith('/') ? routeUrl.slice(0, -1) : routeUrl
      const transformed: FastifySchema & { hide?: boolean, security?: unknown, headers?: unknown } = { ...(schema ?? {}) }
      if (!documented(url)) return { schema: { ...transformed, hide: true }, url }
      const config = route.config ?? {}
      if (config.public !== true) transformed.security = [{ bearerAuth: [] }]
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
