import { createHash } from 'node:crypto'
import fp from 'fastify-plugin'
import rateLimit, { normalizeIP } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler, preHandlerAsyncHookHandler, RouteOptions } from 'fastify'
import { AppError } from '../src/platform/errors.ts'
import { withinOr } from '../src/platform/within.ts'
import { normalizeEmail } from '../src/features/auth/index.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * login/register: attempts counted per client IP (before the body is read) and per body
     * `email` (after validation), AUTH_RATE_LIMIT_PER_IP / AUTH_RATE_LIMIT_PER_EMAIL a minute
     */
    authRateLimit?: boolean
    /**
     * routes that check the caller's password (DELETE /v1/me): attempts counted per client IP
     * (AUTH_RATE_LIMIT_PER_IP) and per authenticated user (AUTH_RATE_LIMIT_PER_EMAIL) a minute,
     * as login counts them per IP and per email
     */
    passwordRateLimit?: boolean
  }
}

const WINDOW_MS = 60_000
/** a Redis that does not answer within this is treated as down */
const REDIS_WAIT_MS = 250
const GAVE_UP = 'timeout'

type Limiter = ReturnType<FastifyInstance['createRateLimit']>

const rateLimited = (retryAfter: number) =>
  new AppError('rate_limited', { detail: `too many attempts; retry in ${retryAfter} s`, retryAfter: Math.max(1, retryAfter) })

/** Redis keys name no address: the email's SHA-256 stands for it. */
const emailKey = (email: string): string => createHash('sha256').update(normalizeEmail(email)).digest('base64url')

function hooksOf<T> (value: T | T[] | undefined): T[] {
  if (value === undefined) return []
  return Array.isArray(value) ? value : [value]
}

/**
 * Brute-force limits on login and register (API.md Limits), and on the routes that check a
 * password of a signed-in caller (DELETE /v1/me: per IP and per user), counted in Redis through
 * @fastify/rate-limit so they hold across instances; each route counts on its own
 * (`POST /v1/auth/login` per IP, per email; the same for register). Over the limit: 429
 * `rate_limited` with Retry-After, in the app's problem format.
 *
 * Redis down or not answering within 250 ms: the check fails OPEN (the attempt goes through and
 * a warning is logged). Locking every user out of login because Redis is away would be worse
 * than a few minutes without brute-force limits; passwords are still scrypt-hashed, and nginx
 * limits the general request rate in front of the app.
 */
async function rateLimitPlugin (app: FastifyInstance): Promise<void> {
  await app.register(rateLimit, {
    global: false,
    redis: app.redis,
    nameSpace: `${app.config.REDIS_PREFIX}rate-limit:`,
    skipOnError: false,
    // any route that uses config.rateLimit answers in the app's format too
    errorResponseBuilder: (_request, context) => rateLimited(Math.ceil(context.ttl / 1000))
  })

  // IPv6 clients count per /64, as the library does by default.
  // (the library prefixes the keys of limiters made this way with "undefinedundefined-": it would
  // name a route there, and these keys name theirs themselves)
  const perIp = app.createRateLimit({
    max: app.config.AUTH_RATE_LIMIT_PER_IP,
    timeWindow: WINDOW_MS,
    keyGenerator: request => `${request.routeOptions.url ?? ''}:ip:${normalizeIP(request.ip)}`
  })
  const perEmail = app.createRateLimit({
    max: app.config.AUTH_RATE_LIMIT_PER_EMAIL,
    timeWindow: WINDOW_MS,
    keyGenerator: request => `${request.routeOptions.url ?? ''}:email:${emailKey((request.body as { email: string }).email)}`
  })

  // method in the key: GET and DELETE /v1/me share a URL
  const passwordPerIp = app.createRateLimit({
    max: app.config.AUTH_RATE_LIMIT_PER_IP,
    timeWindow: WINDOW_MS,
    keyGenerator: request => `${request.method} ${request.routeOptions.url ?? ''}:ip:${normalizeIP(request.ip)}`
  })
  const passwordPerUser = app.createRateLimit({
    max: app.config.AUTH_RATE_LIMIT_PER_EMAIL,
    timeWindow: WINDOW_MS,
    keyGenerator: request => `${request.method} ${request.routeOptions.url ?? ''}:user:${request.principal?.userId ?? ''}`
  })

  async function check (limiter: Limiter, request: FastifyRequest, what: string): Promise<void> {
    try {
      // a count that fails after the timeout has let the request through is absorbed
      const result = await withinOr(REDIS_WAIT_MS, GAVE_UP, limiter(request))
      if (result === GAVE_UP) {
        request.log.warn({ limit: what }, 'auth rate limit skipped: Redis did not answer in time')
        return
      }
      if (!result.isAllowed && result.isExceeded) throw rateLimited(result.ttlInSeconds)
    } catch (error) {
      if (error instanceof AppError) throw error
      request.log.warn({ limit: what, err: { message: (error as Error).message } }, 'auth rate limit skipped: Redis unavailable')
    }
  }

  const limitPerIp: onRequestAsyncHookHandler = async request => { await check(perIp, request, 'ip') }
  // a preHandler: the email is in the body, known only once it is parsed and validated
  const limitPerEmail: preHandlerAsyncHookHandler = async request => {
    if (typeof (request.body as { email?: unknown } | undefined)?.email === 'string') await check(perEmail, request, 'email')
  }

  // a route onRequest hook runs after the global ones: auth has set the principal (or refused)
  const limitPasswordCheck: onRequestAsyncHookHandler = async request => {
    await check(passwordPerIp, request, 'ip')
    if (request.principal !== null) await check(passwordPerUser, request, 'user')
  }

  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.config?.passwordRateLimit === true) route.onRequest = [...hooksOf(route.onRequest), limitPasswordCheck]
    if (route.config?.authRateLimit !== true) return
    route.onRequest = [...hooksOf(route.onRequest), limitPerIp]
    route.preHandler = [...hooksOf(route.preHandler), limitPerEmail]
  })
}

export default fp(rateLimitPlugin, { name: 'rate-limit', fastify: '5.x', dependencies: ['redis', 'errors'] })
