import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { Type } from '@sinclair/typebox'
import { Counter } from 'prom-client'
import { isDataException, isUnstorableText } from '../src/platform/db/errors.ts'
import { AppError, type AjvIssue, type ProblemCode } from '../src/platform/errors.ts'
import { fieldProblems, frameworkCodes, problemOf } from '../src/http/problem-document.ts'
import { Problem } from '../src/schemas/problem.ts'

/** Turns an error another plugin knows (a PostgreSQL timeout, say) into an AppError, or passes. */
export type ErrorTranslator = (error: unknown) => AppError | undefined

declare module 'fastify' {
  interface FastifyInstance {
    /** lets a plugin own the mapping of its own failures to problem codes */
    addErrorTranslator: (translator: ErrorTranslator) => void
  }
}

const unstorable = () => new AppError('validation_failed', {
  detail: 'text may not contain NUL (U+0000) characters',
  errors: [{ path: '/', message: 'may not contain NUL (U+0000) characters' }]
})

const codeByStatus: Record<number, ProblemCode> = {
  400: 'malformed_body',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'unavailable'
}

/**
 * One error handler for the whole app: every failure, Fastify's own included, leaves as
 * application/problem+json with a stable code and the request id. A 500 shows nothing of its cause.
 */
async function errorsPlugin (app: FastifyInstance): Promise<void> {
  const translators: ErrorTranslator[] = []
  app.decorate('addErrorTranslator', (translator: ErrorTranslator) => { translators.push(translator) })

  app.addSchema(Problem)
  const problemRef = Type.Ref(Problem)

  // A route's response schema also serializes its errors: give every route the shared Problem.
  app.addHook('onRoute', (route: RouteOptions) => {
    route.schema ??= {}
    const response = (route.schema.response ??= {}) as Record<string, unknown>
    response['4xx'] ??= problemRef
    response['5xx'] ??= problemRef
  })

  function toAppError (error: FastifyError | AppError | Error): AppError {
    if (error instanceof AppError) return error
    for (const translate of translators) {
      const translated = translate(error)
      if (translated !== undefined) return translated
    }
    const fastifyError = error as FastifyError
    if (fastifyError.validation !== undefined) {
      const context = fastifyError.validationContext ?? 'body'
      const errors = fieldProblems(fastifyError.validation as AjvIssue[])
      const first = errors[0]
      const detail = first === undefined ? `invalid ${context}` : `${context}${first.path === '/' ? '' : first.path} ${first.message}`
      return new AppError('validation_failed', { detail, errors })
    }
    // Text PostgreSQL cannot store: a NUL character wherever it hides (a body field, a query
    // filter, a login email). Before the backstop, which would word it vaguely.
    if (isUnstorableText(error)) return unstorable()
    // The backstop behind every validation: any other data exception. PostgreSQL's message is
    // not shown.
    if (isDataException(error)) {
      return new AppError('validation_failed', {
        detail: 'a value is not valid for its type or is out of range',
        errors: [{ path: '/', message: 'is not a valid value' }],
        cause: error
      })
    }
    const mapped = fastifyError.code !== undefined ? frameworkCodes[fastifyError.code] : undefined
    if (mapped !== undefined) return new AppError(mapped, { detail: fastifyError.message })
    const status = fastifyError.statusCode
    if (status !== undefined && status >= 400 && status < 500) {
      return new AppError(codeByStatus[status] ?? 'malformed_body', { detail: fastifyError.message })
    }
    if (status === 503) return new AppError('unavailable')
    return new AppError('internal', { cause: error })
  }

  // every problem answered, by code: 503 `timeout` (a budget ran out), `unavailable` (a dependency
  // down, or load shedding, which atrium_load_shed_total counts alone), 401s, 404s...
  const problems = new Counter({
    name: 'atrium_http_problems_total',
    help: 'problem+json answers by problem code and status (timeout, unavailable, not_found, ...)',
    labelNames: ['code', 'status'] as const,
    registers: [app.metrics]
  })

  function sendProblem (error: AppError, request: FastifyRequest, reply: FastifyReply): Problem {
    problems.labels(error.code, String(error.statusCode)).inc()
    if (error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter))
    reply.code(error.statusCode).type('application/problem+json')
    return problemOf(error, request)
  }

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    // a known path with a method it does not serve is an unmatched URL, whatever its body
    const appError = request.is404 ? new AppError('not_found') : toAppError(error)
    if (appError.statusCode >= 500) {
      request.log.error({ err: error, code: appError.code }, 'request failed')
    } else if (isDataException(error)) {
      // the client's fault, but some validation let the value through to PostgreSQL
      request.log.warn({ err: error, code: appError.code }, 'PostgreSQL refused a value that passed validation')
    }
    return sendProblem(appError, request, reply)
  })

  app.setNotFoundHandler(async (request, reply) => {
    return sendProblem(new AppError('not_found', { detail: `no route for ${request.method} ${request.url.split('?')[0]}` }), request, reply)
  })
}

export default fp(errorsPlugin, { name: 'errors', fastify: '5.x', dependencies: ['metrics'] })
