import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { bearer } from './users.ts'

export type Reply = LightMyRequestResponse
type Headers = Record<string, string>

/** Requests made as one caller (a bearer token and any extra headers, e.g. X-Tenant). */
export interface Client {
  get: (url: string, headers?: Headers) => Promise<Reply>
  post: (url: string, payload?: object, headers?: Headers) => Promise<Reply>
  patch: (url: string, payload: object, headers?: Headers) => Promise<Reply>
  delete: (url: string, headers?: Headers) => Promise<Reply>
}

export function clientOf (app: FastifyInstance, token: string | null, base: Headers = {}): Client {
  const headersOf = (extra: Headers = {}): Headers => ({
    ...(token === null ? {} : bearer(token)),
    ...base,
    ...extra
  })
  return {
    get: (url, headers) => app.inject({ method: 'GET', url, headers: headersOf(headers) }),
    post: (url, payload = {}, headers) => app.inject({ method: 'POST', url, headers: headersOf(headers), payload }),
    patch: (url, payload, headers) => app.inject({ method: 'PATCH', url, headers: headersOf(headers), payload }),
    delete: (url, headers) => app.inject({ method: 'DELETE', url, headers: headersOf(headers) })
  }
}

export interface ProblemBody {
  type: string
  title: string
  status: number
  code: string
  request_id: string
  detail?: string
  instance?: string
  errors?: Array<{ path: string, message: string }>
}

/** Asserts an RFC 9457 answer with this status and code (and the response's request id); returns its body. */
export function expectProblem (tt: Test, response: Reply, status: number, code: string, label = ''): ProblemBody {
  const prefix = label === '' ? '' : `${label}: `
  tt.equal(response.statusCode, status, `${prefix}status ${status}`)
  tt.match(response.headers['content-type'], /^application\/problem\+json/, `${prefix}problem+json`)
  const body = response.json() as ProblemBody
  tt.equal(body.code, code, `${prefix}code ${code}`)
  tt.equal(body.status, status, `${prefix}body status`)
  tt.equal(body.request_id, response.headers['x-request-id'], `${prefix}request_id matches X-Request-Id`)
  return body
}

/** Asserts a 400 validation_failed that names the offending field's path. */
export function expectInvalid (tt: Test, response: Reply, path: string, label = ''): ProblemBody {
  const body = expectProblem(tt, response, 400, 'validation_failed', label)
  tt.ok(body.errors?.some(error => error.path === path), `${label === '' ? '' : `${label}: `}errors name ${path} (got ${JSON.stringify(body.errors)})`)
  return body
}
