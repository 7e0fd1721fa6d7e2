import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

const saneRequestId = /^[A-Za-z0-9._:-]{1,128}$/

/** Fastify's genReqId: the incoming X-Request-Id when it is a sane token, else a fresh UUID. */
export function requestIdOf (request: IncomingMessage): string {
  const incoming = request.headers['x-request-id']
  return typeof incoming === 'string' && saneRequestId.test(incoming) ? incoming : randomUUID()
}
