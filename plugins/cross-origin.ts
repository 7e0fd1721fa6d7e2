import fp from 'fastify-plugin'
import cors from '@fastify/cors'
import type { FastifyInstance, RouteOptions } from 'fastify'

/**
 * CORS (@fastify/cors) from CORS_ORIGINS, exact origins (parsed and checked by loadConfig); empty:
 * no CORS at all (no Access-Control headers, OPTIONS is 404). An allowed origin gets its own
 * origin back, the request headers clients send, and X-Request-Id and Retry-After exposed; bearer
 * tokens, no cookies, so no credentials mode. A request from any other origin is served without
 * CORS headers (the browser withholds the answer from the page); its preflight is 404.
 *
 * Registered before auth (auth depends on it): CORS headers must reach a 401 too, or a browser
 * client cannot tell an expired token from a network failure.
 */
async function crossOriginPlugin (app: FastifyInstance): Promise<void> {
  const origins = app.config.corsOrigins
  if (origins.size === 0) return

  // the preflight route answers before authentication: its whole job is to say what is allowed
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.method === 'OPTIONS' && route.url === '*') route.config = { ...route.config, public: true }
  })
  await app.register(cors, {
    origin: (origin, callback) => { callback(null, origin !== undefined && origins.has(origin) ? origin : false) },
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'x-tenant', 'x-request-id'],
    exposedHeaders: ['x-request-id', 'retry-after'],
    maxAge: 600,
    credentials: false,
    // an OPTIONS from an allowed origin without Access-Control-Request-Method gets the preflight
    // answer rather than a text/plain 400 outside the problem format
    strictPreflight: false
  })
}

export default fp(crossOriginPlugin, { name: 'cross-origin', fastify: '5.x' })
