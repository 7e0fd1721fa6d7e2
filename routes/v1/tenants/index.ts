import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { NewTenantBody, Tenant } from '../../../src/features/tenancy/index.ts'

const tenantsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const tenants = app.services.tenants

  app.post('/', {
    config: { permission: 'authenticated' },
    schema: {
      summary: 'Create a tenant; the caller becomes its owner',
      tags: ['tenants'],
      body: NewTenantBody,
      response: { 201: Type.Object({ tenant: Tenant }) }
    }
  }, async (request, reply) => {
    const tenant = await tenants.create(request.principal!.userId, request.body)
    reply.code(201)
    return { tenant }
  })
}

export default tenantsRoutes
