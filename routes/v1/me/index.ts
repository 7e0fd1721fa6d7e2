import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Me } from '../../../src/schemas/user.ts'
import { me } from '../../../src/services/users.ts'

const meRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/', {
    config: { permission: 'authenticated' },
    schema: {
      summary: 'The caller and its memberships',
      tags: ['auth'],
      response: { 200: Me }
    }
  }, async (request) => me(app.db, request.principal!.userId))
}

export default meRoutes
