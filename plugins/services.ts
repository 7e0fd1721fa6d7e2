import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { ArticlesService } from '../src/features/articles/index.ts'
import { AuditService } from '../src/features/audit/index.ts'
import { AuthService, UsersService } from '../src/features/auth/index.ts'
import { BillingService, WebhookSignatureVerifier } from '../src/features/billing/index.ts'
import { MembersService, TenantsService } from '../src/features/tenancy/index.ts'
import { PrivacyService } from '../src/features/privacy/index.ts'
import type { FeatureFlags } from './feature-flags.ts'

/** Everything a route calls, built once at start: a route reads `app.services.<name>` and constructs nothing. */
export interface Services {
  articles: ArticlesService
  audit: AuditService
  auth: AuthService
  billing: BillingService
  /** the feature-flags plugin's flags (it owns their in-memory store and its reloads) */
  flags: FeatureFlags
  members: MembersService
  /** checks `Payments-Signature` on the payment provider's webhooks */
  paymentSignatures: WebhookSignatureVerifier
  privacy: PrivacyService
  tenants: TenantsService
  users: UsersService
}

declare module 'fastify' {
  interface FastifyInstance {
    /** the domain services; route handlers call exactly one of their functions */
    services: Services
  }
}

/**
 * Builds the domain services once, on the app's database, invalidation channel and logger, with
 * what the auth and tenancy plugins own (token issuing, the cached tenant directory).
 */
async function servicesPlugin (app: FastifyInstance): Promise<void> {
  app.decorate('services', {
    articles: new ArticlesService(app.db),
    audit: new AuditService(app.db),
    auth: new AuthService({
      db: app.db,
      tokens: app.accessTokens,
      tenants: app.tenants,
      refreshTtlSeconds: app.config.REFRESH_TOKEN_TTL_S,
      successorKey: app.config.jwtSecrets[0],
      log: app.log
    }),
    billing: new BillingService(app.db),
    flags: app.flags,
    members: new MembersService(app.db, app.invalidation),
    paymentSignatures: new WebhookSignatureVerifier(app.config.webhookSecrets),
    privacy: new PrivacyService(app.db),
    tenants: new TenantsService(app.db, app.invalidation),
    users: new UsersService(app.db)
  } satisfies Services)
}

export default fp(servicesPlugin, {
  name: 'services',
  fastify: '5.x',
  dependencies: ['postgres', 'invalidation', 'auth', 'tenancy', 'feature-flags']
})
