import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify'
import type { Config } from '../config.ts'
import type { Logger } from '../platform/logger.ts'
import { trimKeyword } from '../schemas/trim.ts'
import { AccessLog } from './access-log.ts'
import { frameworkErrors } from './problem-document.ts'
import { parseQuerystring } from './querystring.ts'
import { requestIdOf } from './request-id.ts'
import { validatorFactory } from './schema-compiler.ts'

/**
 * The process logger as Fastify's loggerInstance: its child() is itself. One logger for every
 * request: its mixin adds the request context, so a child per request would only cost. Done in the
 * logger rather than with a `childLoggerFactory: logger => logger`, because Fastify checks what a
 * custom factory returns on every request (seven method lookups and two arrays, 0.3 µs measured);
 * a logger's own child() it takes as it is.
 */
export function fastifyLogger (logger: Logger): FastifyBaseLogger {
  const shared = Object.create(logger) as Logger
  Object.defineProperty(shared, 'child', { value: () => shared })
  return shared as FastifyBaseLogger
}

/** Fastify's server options for Atrium (the logger is given by buildApp, through fastifyLogger). */
export function serverOptions (config: Config): FastifyServerOptions {
  return {
    logController: new AccessLog(),
    genReqId: requestIdOf,
    requestIdHeader: false,
    trustProxy: typeof config.trustProxy === 'boolean' ? config.trustProxy : [...config.trustProxy],
    bodyLimit: 1_048_576,
    routerOptions: { querystringParser: parseQuerystring },
    frameworkErrors,
    keepAliveTimeout: config.KEEP_ALIVE_TIMEOUT_MS,
    requestTimeout: config.CONNECTION_REQUEST_TIMEOUT_MS,
    // A request that reaches a closing server (a connection accepted just as it stopped
    // listening, or one more on a keep-alive connection) is served, with `Connection: close`,
    // instead of Fastify's bare 503: the server closes before the database and Redis do
    // (plugins' onClose hooks run after it), and the shutdown delay has already turned the
    // balancer away (src/platform/shutdown.ts, plugins/lifecycle.ts)
    return503OnClosing: false,
    // on close, idle keep-alive sockets are closed at once (those in use close after their
    // response): a proxy's idle connections never hold the process open past its grace
    forceCloseConnections: 'idle',
    // query, params and headers are coerced from text; bodies are not (src/http/schema-compiler.ts)
    schemaController: { compilersFactory: { buildValidator: validatorFactory } },
    ajv: {
      customOptions: {
        removeAdditional: false,
        coerceTypes: 'array',
        useDefaults: true,
        allErrors: false
      },
      plugins: [trimKeyword]
    }
  }
}
