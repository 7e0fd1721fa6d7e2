import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Subscription } from '../../../src/features/billing/index.ts'

const subscriptionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const billing = app.services.billing

  app.get('/', {
    config: { permission: 'billing:read' },
    schema: { summary: "The tenant's subscription", tags: ['billing'], response: { 200: Subscription } }
  }, async (request) => billing.subscription(request.tenant!.id))
}

export default subscriptionRoutes
