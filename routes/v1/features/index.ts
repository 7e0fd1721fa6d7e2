import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Features } from '../../../src/features/flags/index.ts'

const featuresRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const flags = app.services.flags

  // a synchronous handler: the flags are in memory, and a value returned as it is spares the
  // promise and the microtask Fastify would await it through
  app.get('/', {
    config: { permission: 'member' },
    schema: {
      summary: 'The feature flags the caller may know of, and whether each is on for it in this tenant',
      tags: ['features'],
      response: { 200: Features }
    }
  }, (request) => ({
    features: flags.all({ tenantId: request.tenant!.id, isStaff: request.principal!.isStaff })
  }))
}

export default featuresRoutes
