import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import { ACCESS_MESSAGE, AccessLine } from '../platform/logger.ts'

/**
 * Fastify's own request log lines, replaced by one access-log line per request that names the
 * route pattern, status, duration, request, tenant and user. Passed to Fastify by buildApp.
 */
export class AccessLog extends LogController {
  override incomingRequest (): void {}
  override routeNotFound (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const context = request.ctx
    if (!error) {
      // the usual line, which the process logger writes without pino's generic key walk
      reply.log.info(new AccessLine(
        request.id,
        context?.traceId,
        context?.spanId,
        request.method,
        context?.route ?? 'unmatched',
        reply.statusCode,
        Math.round(reply.elapsedTime * 100) / 100,
        context?.tenantId,
        context?.userId
      ), ACCESS_MESSAGE)
      return
    }
    reply.log.info({
      request_id: request.id,
      trace_id: context?.traceId,
      span_id: context?.spanId,
      method: request.method,
      route: context?.route ?? 'unmatched',
      status: reply.statusCode,
      duration_ms: Math.round(reply.elapsedTime * 100) / 100,
      tenant_id: context?.tenantId,
      user_id: context?.userId,
      err: error
    }, ACCESS_MESSAGE)
  }
}
