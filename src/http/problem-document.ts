import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { AppError, type AjvIssue, problemCodes, type ProblemCode } from '../platform/errors.ts'
import type { FieldProblem, Problem } from '../schemas/problem.ts'
import { apiHeaders } from './security-headers.ts'

/** Fastify's own error codes, as API.md's problem codes. */
export const frameworkCodes: Record<string, ProblemCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_body',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_body',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'malformed_body',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_BAD_URL: 'not_found',
  FST_ERR_MAX_PARAM_LENGTH: 'not_found',
  FST_ERR_ASYNC_CONSTRAINT: 'not_found'
}

/** Ajv's issues as API.md's `errors` entries: a JSON pointer to the field and what is wrong. */
export function fieldProblems (issues: AjvIssue[]): FieldProblem[] {
  return issues.map(issue => {
    let path = issue.instancePath === '' ? '/' : issue.instancePath
    if (issue.keyword === 'required') path = `${issue.instancePath}/${String(issue.params.missingProperty)}`
    if (issue.keyword === 'additionalProperties') path = `${issue.instancePath}/${String(issue.params.additionalProperty)}`
    const message = issue.keyword === 'additionalProperties' ? 'is not allowed' : (issue.message ?? 'is invalid')
    return { path, message }
  })
}

/** The problem+json document of an error, as every error answer carries it. */
export function problemOf (error: AppError, request: FastifyRequest): Problem {
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
 * Fastify's `frameworkErrors` (src/http/server-options.ts). A URL the router cannot decode (bad
 * percent-encoding) or whose path parameter is longer than maxParamLength is refused before any
 * hook, route or error handler runs; without this Fastify answers in its own JSON shape. It is an
 * unmatched URL.
 */
export function frameworkErrors (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const appError = new AppError(frameworkCodes[error.code] ?? 'not_found', { detail: error.message })
  reply.headers(apiHeaders).header('x-request-id', request.id)
  reply.code(appError.statusCode).type('application/problem+json').send(JSON.stringify(problemOf(appError, request)))
}
