import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { Type } from '@sinclair/typebox'
import { isDataException } from '../src/platform/db/errors.ts'
import { AppError, problemCodes, type ProblemCode } from '../src/platform/errors.ts'
import { Problem, type FieldProblem } from '../src/schemas/problem.ts'
import { apiHeaders } from './security.ts'

/** Turns an error another plugin knows (a PostgreSQL timeout, say) into an AppError, or passes. */
export type ErrorTranslator = (error: unknown) => AppError | undefined

declare module 'fastify' {
  interface FastifyInstance {
    /** lets a plugin own the mapping of its own failures to problem codes */
    addErrorTranslator: (translator: ErrorTranslator) => void
  }
}

const frameworkCodes: Record<string, ProblemCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_body',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_body',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'malformed_body',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_BAD_URL: 'not_found',
  FST_ERR_MAX_PARAM_LENGTH: 'not_found',
  FST_ERR_ASYNC_CONSTRAINT: 'not_found'
}

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

interface AjvIssue { instancePath: string, keyword: string, message?: string, params: Record<string, unknown> }

function fieldProblems (issues: AjvIssue[]): FieldProblem[] {
  return issues.map(issue => {
    let path = issue.instancePath === '' ? '/' : issue.instancePath
    if (issue.keyword === 'required') path = `${issue.instancePath}/${String(issue.params.missingProperty)}`
    if (issue.keyword === 'additionalProperties') path = `${issue.instancePath}/${String(issue.params.additionalProperty)}`
    const message = issue.keyword === 'additionalProperties' ? 'is not allowed' : (issue.message ?? 'is invalid')
    return { path, message }
  })
}

function problemOf (error: AppError, request: FastifyRequest): Problem {
  const problem: Problem = {
    type: `https://atrium.dev/problems/${error.code.replaceAll('_', '-')}`,
    title: problemCodes[error.code].title,
    status: error.statusCode,
    code: error.code,
    request_id: request.id,
    instance: request.routeOptions.url ?? request.url.split('?', 1)[0] ?? '/'
  }
  if (error.detail !== undefined) problem.detail = error.detail
  if (error.errors !== undefined) problem.errors = error.errors
  return problem
}

/**
 * Fastify's `frameworkErrors` (src/app.ts). A URL the router cannot decode (bad percent-encoding)
 * or whose path parameter is longer than maxParamLength is refused before any hook, route or
 * error handler runs; without this Fastify answers in its own JSON shape. It is an unmatched URL.
 */
export function frameworkErrors (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const appError = new AppError(frameworkCodes[error.code] ?? 'not_found', { detail: error.message })
  reply.headers(apiHeaders).header('x-request-id', request.id)
  reply.code(appError.statusCode).type('application/problem+json').send(JSON.stringify(problemOf(appError, request)))
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
    // The backstop behind every validation, after the translators so a specific one (NUL in
    // text, plugins/security.ts) still words its own answer. PostgreSQL's message is not shown.
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

  function sendProblem (error: AppError, request: FastifyRequest, reply: FastifyReply): Problem {
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

export default fp(errorsPlugin, { name: 'errors', fastify: '5.x' })
