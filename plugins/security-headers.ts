import fp from 'fastify-plugin'
import type { FastifyInstance, onSendHookHandler, RouteOptions } from 'fastify'
import { apiHeaders, docsHeaders, isDocsUrl } from '../src/http/security-headers.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** the route serves the docs page or its assets: it gets the docs Content-Security-Policy */
    docs?: boolean
  }
}

/**
 * Security headers (helmet's, computed once): HSTS, nosniff, X-Frame-Options DENY, no referrer,
 * same-origin opener and resource policies, and a Content-Security-Policy: `default-src 'none'`
 * for the API, a policy that lets swagger-ui load its own assets on /docs. Set in onSend, so
 * errors, 404s and early replies (rate limits, auth failures) carry them too. The docs routes
 * (plugins/openapi.ts, which depends on this plugin) are marked as they are added.
 */
async function securityHeadersPlugin (app: FastifyInstance): Promise<void> {
  app.addHook('onRoute', (route: RouteOptions) => {
    if (isDocsUrl(route.url)) route.config = { ...route.config, docs: true }
  })
  const securityHeaders: onSendHookHandler = (request, reply, payload, done) => {
    reply.headers(request.routeConfig?.docs === true ? docsHeaders : apiHeaders)
    done(null, payload)
  }
  app.addHook('onSend', securityHeaders)
}

export default fp(securityHeadersPlugin, { name: 'security-headers', fastify: '5.x' })
