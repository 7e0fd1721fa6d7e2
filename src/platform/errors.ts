import type { FieldProblem } from '../schemas/problem.ts'

/** The stable problem codes of API.md with their HTTP status and title. */
export const problemCodes = {
  validation_failed: { status: 400, title: 'Validation failed' },
  malformed_body: { status: 400, title: 'Malformed request body' },
  invalid_signature: { status: 400, title: 'Invalid signature' },
  tenant_required: { status: 400, title: 'Tenant required' },
  unauthenticated: { status: 401, title: 'Unauthenticated' },
  token_expired: { status: 401, title: 'Token expired' },
  forbidden: { status: 403, title: 'Forbidden' },
  feature_not_enabled: { status: 403, title: 'Feature not enabled' },
  tenant_not_found: { status: 404, title: 'Tenant not found' },
  not_found: { status: 404, title: 'Not found' },
  conflict: { status: 409, title: 'Conflict' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  rate_limited: { status: 429, title: 'Too many requests' },
  internal: { status: 500, title: 'Internal server error' },
  timeout: { status: 503, title: 'Timed out' },
  unavailable: { status: 503, title: 'Service unavailable' }
} as const

export type ProblemCode = keyof typeof problemCodes

export interface AppErrorOptions {
  detail?: string
  errors?: FieldProblem[]
  /** seconds, sent as Retry-After */
  retryAfter?: number
  cause?: unknown
}

/**
 * A domain error: services throw it, knowing nothing of HTTP beyond the stable code;
 * the errors plugin turns it into problem+json.
 */
export class AppError extends Error {
  readonly statusCode: number
  readonly detail?: string
  readonly errors?: FieldProblem[]
  readonly retryAfter?: number

  constructor (readonly code: ProblemCode, options: AppErrorOptions = {}) {
    super(options.detail ?? problemCodes[code].title, { cause: options.cause })
    this.name = 'AppError'
    this.statusCode = problemCodes[code].status
    if (options.detail !== undefined) this.detail = options.detail
    if (options.errors !== undefined) this.errors = options.errors
    if (options.retryAfter !== undefined) this.retryAfter = options.retryAfter
  }
}

export const notFound = (detail?: string) => new AppError('not_found', detail === undefined ? {} : { detail })
export const conflict = (detail: string) => new AppError('conflict', { detail })
export const forbidden = (detail?: string) => new AppError('forbidden', detail === undefined ? {} : { detail })
export const validationFailed = (path: string, message: string) =>
  new AppError('validation_failed', { detail: `${path} ${message}`, errors: [{ path, message }] })

/** One issue of an Ajv validation error (request schemas, the settings schema). */
export interface AjvIssue { instancePath: string, keyword: string, message?: string, params: Record<string, unknown> }
