import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { AppError } from '../src/platform/errors.ts'
import { type AccessClaims, AccessTokens, type AuthUser, dummyHash, loadAuthUser, UserCache } from '../src/features/auth/index.ts'

/** Who is calling: set on every route that is not public. */
export interface Principal {
  userId: string
  name: string
  email: string
  isStaff: boolean
  /** the `tid` claim: the tenant the access token is bound to */
  tokenTenantId: string | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    /** issues and verifies access tokens */
    accessTokens: AccessTokens
  }
  interface FastifyRequest {
    principal: Principal | null
  }
  interface FastifyContextConfig {
    /** the route needs no authentication or permission: stated, never assumed */
    public?: boolean
  }
}

const BEARER = 'bearer '
const missingToken = () => new AppError('unauthenticated', { detail: 'a valid bearer token is required' })
const goneUser = () => new AppError('unauthenticated', { detail: 'the user of this token no longer exists' })

function bearerToken (header: string | undefined): string {
  if (header === undefined || header.length <= BEARER.length) throw missingToken()
  // the scheme is case-insensitive; the usual spelling is checked without building a string
  if (!header.startsWith('Bearer ') && header.slice(0, BEARER.length).toLowerCase() !== BEARER) throw missingToken()
  return header.slice(BEARER.length).trim()
}

function principalOf (claims: AccessClaims, user: AuthUser): Principal {
  return { userId: claims.sub, name: user.name, email: user.email, isStaff: user.isStaff, tokenTenantId: claims.tid }
}

/**
 * Authentication for every route not marked `config: { public: true }`: a bearer access token
 * (HS256 JWT, verified from an in-memory cache when hot, see src/features/auth/tokens.ts) and its user,
 * from an in-process cache dropped on every instance through the invalidation channel (publish
 * `user` with the user id on any change to a user). A steady-state request does no database or
 * Redis round trip. Missing or bad token, unknown or anonymized user: 401 `unauthenticated`;
 * an expired token: 401 `token_expired`. Unmatched URLs stay 404 without a token.
 */
async function authPlugin (app: FastifyInstance): Promise<void> {
  const tokens = new AccessTokens({ secrets: app.config.jwtSecrets, ttlSeconds: app.config.ACCESS_TOKEN_TTL_S })
  const users = new UserCache(userId => loadAuthUser(app.db, userId))
  app.decorate('accessTokens', tokens)
  app.decorateRequest('principal', null)

  app.invalidation.on('user', userId => { users.drop(userId) })
  app.invalidation.onResync(() => { users.clear() })
  // the first unknown-email login must not be the one that pays for making the dummy hash
  app.addHook('onReady', async () => { await dummyHash() })

  function authenticate (request: FastifyRequest, claims: AccessClaims, user: AuthUser): void {
    if (user.deleted) throw goneUser()
    request.principal = principalOf(claims, user)
    request.ctx.userId = claims.sub
  }

  // callback style: the cached path completes synchronously, without a promise per request
  app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    if (request.routeConfig.public === true || request.is404) return done()
    let claims: AccessClaims
    let cached: AuthUser | undefined
    try {
      claims = tokens.verify(bearerToken(request.headers.authorization))
      cached = users.peek(claims.sub)
      if (cached !== undefined) authenticate(request, claims, cached)
    } catch (error) {
      return done(error as Error)
    }
    if (cached !== undefined) return done()
    users.load(claims.sub).then(user => { authenticate(request, claims, user) }).then(() => done(), done)
  })
}

export default fp(authPlugin, {
  name: 'auth',
  fastify: '5.x',
  dependencies: ['tracing', 'timeouts', 'postgres', 'invalidation', 'errors', 'cross-origin']
})
