import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'

/**
 * Fastify's own request log lines, replaced by one access-log line per request that names the
 * route pattern, status, duration, request, tenant and user. Passed to Fastify by buildApp.
 */
export class AccessLog extends LogController {
  override incomingRequest (): void {}
  override routeNotFound (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const context = request.ctx
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
      ...(error ? { err: error } : {})
    }, 'request')
  }
}
