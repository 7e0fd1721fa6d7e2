import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Tenant } from '../../../src/features/tenancy/index.ts'

const tenantRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/', {
    config: { permission: 'members:read' },
    schema: {
      summary: 'The tenant of this request',
      tags: ['tenants'],
      response: { 200: Type.Object({ tenant: Tenant }) }
    }
  }, async (request) => ({ tenant: request.tenant! }))
}

export default tenantRoutes
