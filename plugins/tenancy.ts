import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { AppError, validationFailed } from '../src/platform/errors.ts'
import { isTenantKey, type Role, type TenantRow as Tenant, TenantDirectory } from '../src/features/tenancy/index.ts'

declare module 'fastify' {
  interface FastifyInstance {
    tenants: TenantDirectory
  }
  interface FastifyRequest {
    /** the resolved tenant on tenant-scoped routes, null elsewhere */
    tenant: Tenant | null
    /** the caller's role in request.tenant */
    role: Role | null
  }
  interface FastifyContextConfig {
    /** the route works inside one tenant: resolve it and require membership (set per folder) */
    tenant?: boolean
  }
}

const tenantRequired = () => new AppError('tenant_required', { detail: 'name the tenant with X-Tenant, a tenant subdomain or a tenant-bound token' })
const tenantNotFound = () => new AppError('tenant_not_found')
const badTenantHeader = () => validationFailed('/x-tenant', 'must be a tenant slug or id')
/** what tenantKeyOf answers for an X-Tenant that is no slug or id: never a key */
const BAD_HEADER = ''

/**
 * Tenant resolution and membership for tenant-scoped routes, in API.md's order: the X-Tenant
 * header (slug or id), the first label of a Host under BASE_DOMAIN, the token's `tid`. Unknown
 * tenant and "not a member" answer the same 404, so no one learns that another tenant exists.
 * Tenants and memberships come from in-process caches: a steady-state request does no lookup.
 */
async function tenancyPlugin (app: FastifyInstance): Promise<void> {
  const directory = new TenantDirectory(app.db, app.invalidation)
  app.decorate('tenants', directory)
  app.decorateRequest('tenant', null)
  app.decorateRequest('role', null)

  const subdomainOf = tenantSubdomain(app.config.BASE_DOMAIN)

  function tenantKeyOf (request: FastifyRequest): string | undefined {
    const header = request.headers['x-tenant']
    if (typeof header === 'string' && header !== '') {
      const key = header.trim().toLowerCase()
      return isTenantKey(key) ? key : BAD_HEADER
    }
    return subdomainOf(request.host) ?? request.principal?.tokenTenantId
  }

  function apply (request: FastifyRequest, tenant: Tenant, role: Role): void {
    request.tenant = tenant
    request.role = role
    request.ctx.tenantId = tenant.id
  }

  async function resolveSlowly (request: FastifyRequest, key: string, userId: string): Promise<void> {
    const tenant = await directory.loadTenant(key)
    if (tenant === null) throw tenantNotFound()
    const role = await directory.loadRole(tenant.id, userId)
    if (role === null) throw tenantNotFound()
    apply(request, tenant, role)
  }

  // callback style: the cached path completes synchronously, without a promise per request
  app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    if (request.routeConfig.tenant !== true) return done()
    const principal = request.principal
    if (principal === null) return done(new AppError('unauthenticated'))
    const key = tenantKeyOf(request)
    if (key === undefined) return done(tenantRequired())
    if (key === BAD_HEADER) return done(badTenantHeader())
    const tenant = directory.peekTenant(key)
    if (tenant === null) return done(tenantNotFound())
    if (tenant !== undefined) {
      const role = directory.peekRole(tenant.id, principal.userId)
      if (role === null) return done(tenantNotFound())
      if (role !== undefined) {
        apply(request, tenant, role)
        return done()
      }
    }
    resolveSlowly(request, key, principal.userId).then(() => done(), done)
  })
}

/**
 * The tenant label of a Host (port allowed) that is one label under baseDomain, lower-cased;
 * undefined for any other host. Reads the header in place: Fastify's `request.hostname` splits
 * it into a new array on every call.
 */
function tenantSubdomain (baseDomain: string): (host: string) => string | undefined {
  const domain = baseDomain.toLowerCase()
  return host => {
    const dot = host.indexOf('.')
    if (dot <= 0) return undefined
    const end = dot + 1 + domain.length
    if (end !== host.length && host.charCodeAt(end) !== COLON) return undefined
    if (host.slice(dot + 1, end).toLowerCase() !== domain) return undefined
    return host.slice(0, dot).toLowerCase()
  }
}

const COLON = 58

export default fp(tenancyPlugin, { name: 'tenancy', fastify: '5.x', dependencies: ['auth', 'postgres', 'invalidation', 'errors', 'tracing'] })
