import type { FastifyPluginAsync } from 'fastify'

/** On for every tenant: bench/fixtures.ts creates it before any server starts. */
export const BENCH_FLAG = 'bench-flag'

const tinyResponse = {
  200: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] }
} as const

/**
 * Bench-only routes, registered through buildApp's extraPlugins, so every production hook runs for
 * them exactly as for the app's own routes. All three do the same nothing; only their config
 * differs, which isolates what authentication, tenancy, permissions and flags cost:
 * - /bench/public-noop: public (tracing, timeouts, load shedding, metrics, logging, serialization)
 * - /bench/tenant-noop: + bearer token, user, tenant and membership ('member' demands no permission)
 * - /bench/guarded-noop: + a permission check and a feature-flag evaluation
 */
export const benchProbes: FastifyPluginAsync = async (app) => {
  app.get('/bench/public-noop', { config: { public: true }, schema: { response: tinyResponse } }, async () => ({ ok: true }))
  app.get('/bench/tenant-noop', { config: { tenant: true, permission: 'member' }, schema: { response: tinyResponse } }, async () => ({ ok: true }))
  app.get('/bench/guarded-noop', {
    config: { tenant: true, permission: 'articles:read', feature: BENCH_FLAG },
    schema: { response: tinyResponse }
  }, async () => ({ ok: true }))
}
