import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { DeleteMeBody } from '../../../src/features/privacy/index.ts'
import { Me } from '../../../src/features/auth/index.ts'

const meRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { privacy, users } = app.services

  app.get('/', {
    config: { permission: 'authenticated' },
    schema: {
      summary: 'The caller and its memberships',
      tags: ['auth'],
      response: { 200: Me }
    }
  }, async (request) => users.me(request.principal!.userId))

  app.delete('/', {
    config: { permission: 'authenticated', passwordRateLimit: true },
    schema: {
      summary: 'Delete the caller\'s account',
      description: 'Confirmed with the password. A job then anonymizes the user, removes its memberships, deletes the tenants ' +
        'where it was the only member and revokes every token; articles and audit entries stay, shown as a deleted user. ' +
        'The last owner of a tenant with other members gets 409 `conflict`: hand over ownership first. ' +
        'Password attempts are limited like login, per IP and per user: 429 `rate_limited` with `Retry-After`.',
      tags: ['privacy'],
      body: DeleteMeBody,
      response: { 202: Type.Null({ description: 'accepted: the account is anonymized shortly' }) }
    }
  }, async (request, reply) => {
    await privacy.requestDeletion(request.principal!.userId, request.body.password)
    reply.code(202)
  })
}

export default meRoutes
