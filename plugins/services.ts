import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { ArticlesService } from '../src/features/articles/service.ts'
import { BillingService } from '../src/features/billing/service.ts'
import { MembersService } from '../src/features/tenancy/members.ts'
import { PrivacyService } from '../src/features/privacy/service.ts'

export interface Services {
  articles: ArticlesService
  billing: BillingService
  members: MembersService
  privacy: PrivacyService
}

declare module 'fastify' {
  interface FastifyInstance {
    /** the domain services; route handlers call exactly one of their functions */
    services: Services
  }
}

/** Builds the domain services once, on the app's database and invalidation channel. */
async function servicesPlugin (app: FastifyInstance): Promise<void> {
  app.decorate('services', {
    articles: new ArticlesService(app.db),
    billing: new BillingService(app.db),
    members: new MembersService(app.db, app.invalidation),
    privacy: new PrivacyService(app.db)
  })
}

export default fp(servicesPlugin, { name: 'services', fastify: '5.x', dependencies: ['postgres', 'invalidation'] })
