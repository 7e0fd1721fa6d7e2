import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'

// Bodies of route folders' autohooks files. They live outside routes/ on purpose: autoload would
// register a file in routes/ as a route plugin of its folder, and its hooks would reach every route.

function markTenantScoped (route: RouteOptions): void {
  route.config = { ...route.config, tenant: true }
}

/**
 * Every route of the folder works inside one tenant: tenancy (plugins/tenancy.ts) resolves it and
 * requires membership.
 */
export async function tenantScopedFolder (app: FastifyInstance): Promise<void> {
  app.addHook('onRoute', markTenantScoped)
}

/**
 * Sensitive folders (/v1/auth, /v1/me): every answer, errors included, says
 * `Cache-Control: no-store` (API.md Conventions).
 */
export async function noStoreFolder (app: FastifyInstance): Promise<void> {
  app.addHook('onSend', async (_request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    reply.cacheControl('no-store')
    return payload
  })
}
