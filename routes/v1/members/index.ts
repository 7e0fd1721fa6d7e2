import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { ListQuery } from '../../../src/schemas/common.ts'
import { Member, MemberList, MemberParams, NewMemberBody, RoleChangeBody } from '../../../src/features/tenancy/index.ts'
import { actorOf } from '../../../src/http/actor.ts'

const membersRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const members = app.services.members

  app.get('/', {
    config: { permission: 'members:read' },
    schema: { summary: 'List the members of the tenant', tags: ['members'], querystring: ListQuery, response: { 200: MemberList } }
  }, async (request) => members.list(request.tenant!.id, request.query.limit, request.query.cursor))

  app.post('/', {
    config: { permission: 'members:manage' },
    schema: { summary: 'Add an existing user as a member', tags: ['members'], body: NewMemberBody, response: { 201: Type.Object({ member: Member }) } }
  }, async (request, reply) => {
    const member = await members.add(request.tenant!.id, actorOf(request), request.body.email, request.body.role)
    reply.code(201)
    return { member }
  })

  app.patch('/:user_id', {
    config: { permission: 'members:manage' },
    schema: { summary: "Change a member's role", tags: ['members'], params: MemberParams, body: RoleChangeBody, response: { 200: Type.Object({ member: Member }) } }
  }, async (request) => ({ member: await members.changeRole(request.tenant!.id, actorOf(request), request.params.user_id, request.body.role) }))

  app.delete('/:user_id', {
    config: { permission: 'members:manage' },
    schema: { summary: 'Remove a member', tags: ['members'], params: MemberParams, response: { 204: Type.Null() } }
  }, async (request, reply) => {
    await members.remove(request.tenant!.id, actorOf(request), request.params.user_id)
    reply.code(204)
  })
}

export default membersRoutes
