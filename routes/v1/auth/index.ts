import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { LoginBody, RefreshBody, RegisterBody, TokenPair, User } from '../../../src/features/auth/index.ts'

const tags = ['auth']

/** Login and register are public and rate limited (plugins/rate-limit.ts); refresh and logout take the refresh token as their credential. */
const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const auth = app.services.auth

  app.post('/register', {
    config: { public: true, authRateLimit: true },
    schema: {
      summary: 'Create an account',
      tags,
      body: RegisterBody,
      response: { 201: Type.Object({ user: User }) }
    }
  }, async (request, reply) => {
    const user = await auth.register(request.body)
    reply.code(201)
    return { user }
  })

  app.post('/login', {
    config: { public: true, authRateLimit: true },
    schema: {
      summary: 'Exchange email and password for an access and a refresh token, optionally bound to a tenant',
      tags,
      body: LoginBody,
      response: { 200: TokenPair }
    }
  }, async (request) => auth.login(request.body))

  app.post('/refresh', {
    config: { public: true },
    schema: {
      summary: 'Spend a refresh token for a new pair; a spent one revokes its whole family',
      tags,
      body: RefreshBody,
      response: { 200: TokenPair }
    }
  }, async (request) => auth.refresh(request.body.refresh_token))

  app.post('/logout', {
    config: { public: true },
    schema: {
      summary: 'Revoke the family of a refresh token (204 also for a token that is unknown or already revoked)',
      tags,
      body: RefreshBody,
      response: { 204: Type.Null() }
    }
  }, async (request, reply) => {
    await auth.logout(request.body.refresh_token)
    return reply.code(204).send(null)
  })
}

export default authRoutes
