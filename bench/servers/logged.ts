import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import tracing from '../../plugins/tracing.ts'
import { AccessLog } from '../../src/http/access-log.ts'
import { requestIdOf } from '../../src/http/request-id.ts'
import { fastifyLogger } from '../../src/http/server-options.ts'
import { createLogger } from '../../src/platform/logger.ts'
import { serveForBench } from './serve.ts'

/**
 * Bare Fastify with Atrium's logger (src/platform/logger.ts at LOG_LEVEL info, to stdout), serving /hello,
 * in two variants that isolate what the tracing plugin costs (issue 3):
 * - BENCH_TRACING=off: Fastify's default request logging (a child logger per request, the
 *   "incoming request" and "request completed" lines);
 * - BENCH_TRACING=on: exactly buildApp's logging setup (one process logger, AccessLog's single
 *   line per request, genReqId from X-Request-Id) plus plugins/tracing.ts (request context in
 *   AsyncLocalStorage, X-Request-Id and X-Route headers).
 */
const tracingOn = process.env.BENCH_TRACING === 'on'
const logger = createLogger({ LOG_LEVEL: 'info' })

const app: FastifyInstance = tracingOn
  ? Fastify({
    loggerInstance: fastifyLogger(logger),
    logController: new AccessLog(),
    genReqId: requestIdOf,
    requestIdHeader: false
  })
  : Fastify({ loggerInstance: logger as FastifyBaseLogger })

if (tracingOn) await app.register(tracing)
app.get('/hello', {
  schema: {
    response: {
      200: { type: 'object', properties: { hello: { type: 'string' } }, required: ['hello'] }
    }
  }
}, async () => ({ hello: 'world' }))
await serveForBench(app)
