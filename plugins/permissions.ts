import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify'
import { AppError } from '../src/platform/errors.ts'
import { can, permissions, type RouteAccess } from '../src/features/tenancy/index.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** who may call the route (see RouteAccess); a route without it must say `public: true` */
    permission?: RouteAccess
  }
}

const routeAccess = new Set<string>([...permissions, 'member', 'authenticated', 'staff'])

export class UndeclaredAccessError extends Error {
  constructor (route: string) {
    super(`${route} declares neither config.permission nor config.public: authorization cannot be left implicit`)
  }
}

/**
 * Access rules declared per route, checked in one place. Runs after auth and tenancy, before the
 * body is validated, so a caller without the right learns nothing about the route's schema.
 * A /v1 route that declares neither a permission nor `public: true` stops the app from starting.
 */
async function permissionsPlugin (app: FastifyInstance): Promise<void> {
  app.addHook('onRoute', (route: RouteOptions) => {
    const config = route.config ?? {}
    const permission = config.permission
    if (permission !== undefined && !routeAccess.has(permission)) {
      throw new Error(`${route.method} ${route.url}: unknown permission ${permission}`)
    }
    if (route.url.startsWith('/v1/') && permission === undefined && config.public !== true) {
      throw new UndeclaredAccessError(`${String(route.method)} ${route.url}`)
    }
  })

  function denial (request: FastifyRequest, permission: RouteAccess | undefined): AppError | undefined {
    if (permission === undefined || permission === 'authenticated' || permission === 'member') return undefined
    if (permission === 'staff') {
      return request.principal?.isStaff === true ? undefined : new AppError('forbidden', { detail: 'staff only' })
    }
    const role = request.role
    return role !== null && can(role, permission) ? undefined : new AppError('forbidden', { detail: `requires ${permission}` })
  }

  // a route gated by a flag (`config.feature`) is 403 feature_not_enabled for callers it is off for,
  // checked after the permission, from the in-memory flags
  function featureOff (request: FastifyRequest, feature: string | undefined): AppError | undefined {
    if (feature === undefined) return undefined
    const caller = { tenantId: request.tenant?.id, isStaff: request.principal?.isStaff === true }
    return app.flags.isEnabled(feature, caller) ? undefined : new AppError('feature_not_enabled', { detail: `${feature} is not enabled` })
  }

  app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const config = request.routeConfig
    done(denial(request, config.permission) ?? featureOff(request, config.feature))
  })
}

export default fp(permissionsPlugin, { name: 'permissions', fastify: '5.x', dependencies: ['auth', 'tenancy', 'errors', 'feature-flags'] })
