import { pino, type DestinationStream, type Logger } from 'pino'
import { currentContext } from '../context.ts'
import type { Config } from '../config.ts'
import { batchedStdout } from './log-destination.ts'
import { prettyStdout, wantsPrettyLogs, type PrettySettings } from './pretty-logs.ts'

export type { Logger }

/**
 * The logger a service (and the Database) takes: only the calls they make, a level with fields
 * and a message. Both the app's logger (`app.log`) and a pino Logger (the worker's, a test's) fit
 * it as they are, so no one casts one into the other.
 */
export interface ServiceLog {
  debug: (fields: object, message: string) => void
  warn: (fields: object, message: string) => void
}

/**
 * Paths never written to a log, whatever logs them. Exact paths only: redaction runs on every
 * line, and wildcard paths cost several times more (profiled at 2% of a request with them).
 */
export const redactedPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["payments-signature"]',
  'headers.authorization',
  'headers.cookie',
  'headers["payments-signature"]',
  'body.password',
  'body.refresh_token',
  'password',
  'token',
  'access_token',
  'refresh_token',
  'secret',
  'err.parameters'
]

const NO_CONTEXT = Object.freeze({})

/**
 * One logger for the process, writing to a batched stdout (src/platform/log-destination.ts), or
 * readable lines in development on a terminal (src/platform/pretty-logs.ts). Its mixin adds the
 * request (or job) context to every line written while that work runs, from any depth, so no
 * child logger is made per request.
 */
export function createLogger (config: Pick<Config, 'LOG_LEVEL'> & PrettySettings, destination?: DestinationStream): Logger {
  return pino({
    level: config.LOG_LEVEL,
    base: { pid: process.pid },
    // epoch milliseconds: an ISO string per line cost 2% of a no-query request in a profile
    timestamp: pino.stdTimeFunctions.epochTime,
    redact: { paths: redactedPaths, censor: '[redacted]' },
    formatters: { level: label => ({ level: label }) },
    mixin (mergeObject) {
      const context = currentContext()
      if (context === undefined || (mergeObject as { request_id?: string }).request_id !== undefined) return NO_CONTEXT
      return {
        request_id: context.requestId,
        trace_id: context.traceId,
        span_id: context.spanId,
        tenant_id: context.tenantId,
        user_id: context.userId
      }
    },
    // pino's default copies every line's fields into the mixin's object; a line that carries its
    // own ids (the access line) is left as it is
    mixinMergeStrategy: (mergeObject, mixinObject) => mixinObject === NO_CONTEXT ? mergeObject : Object.assign(mixinObject, mergeObject)
  }, destination ?? (wantsPrettyLogs(config, process.stdout.isTTY === true) ? prettyStdout() : batchedStdout()))
}
