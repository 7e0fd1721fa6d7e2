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
 * The fields of the one access line per request (src/http/access-log.ts), in the order they are
 * written; an undefined one is left out, as pino leaves out any undefined field.
 */
export class AccessLine {
  readonly request_id: string
  readonly trace_id: string | undefined
  readonly span_id: string | undefined
  readonly method: string
  readonly route: string
  readonly status: number
  readonly duration_ms: number
  readonly tenant_id: string | undefined
  readonly user_id: string | undefined

  constructor (requestId: string, traceId: string | undefined, spanId: string | undefined, method: string, route: string,
    status: number, durationMs: number, tenantId: string | undefined, userId: string | undefined) {
    this.request_id = requestId
    this.trace_id = traceId
    this.span_id = spanId
    this.method = method
    this.route = route
    this.status = status
    this.duration_ms = durationMs
    this.tenant_id = tenantId
    this.user_id = userId
  }
}

/** the message of every access line */
export const ACCESS_MESSAGE = 'request'

type AsJson = (this: Logger, obj: object, msg: unknown, num: number, time: string) => string
/** what pino keeps on a logger under its exported symbols (pino.symbols), as its own asJson reads it */
interface PinoInternals {
  [pino.symbols.asJsonSym]: AsJson
  [pino.symbols.chindingsSym]: string
  [pino.symbols.endSym]: string
  [pino.symbols.lsCacheSym]: Record<number, string>
  [pino.symbols.messageKeySym]: string
}
const symbols = pino.symbols

/** a quote, a backslash or a control character: what a JSON string must escape */
function needsEscape (text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 32 || code === 34 || code === 92) return true
  }
  return false
}

/**
 * A string as pino quotes it: as it is between quotes when nothing needs escaping (always, for
 * the ids, method and route pattern of an access line), else as JSON.stringify quotes it.
 */
const quoted = (text: string): string => text.length > 100 || needsEscape(text) ? JSON.stringify(text) : '"' + text + '"'
const number = (value: number): string => Number.isFinite(value) ? String(value) : 'null'

function accessFields (line: AccessLine): string {
  let text = ',"request_id":' + quoted(line.request_id)
  if (line.trace_id !== undefined) text += ',"trace_id":' + quoted(line.trace_id)
  if (line.span_id !== undefined) text += ',"span_id":' + quoted(line.span_id)
  text += ',"method":' + quoted(line.method) + ',"route":' + quoted(line.route) + ',"status":' + number(line.status) +
    ',"duration_ms":' + number(line.duration_ms)
  if (line.tenant_id !== undefined) text += ',"tenant_id":' + quoted(line.tenant_id)
  if (line.user_id !== undefined) text += ',"user_id":' + quoted(line.user_id)
  return text
}

/**
 * Writes an AccessLine as the line pino's generic serializer writes for it, character for
 * character (test/platform/logger.test.ts compares), without pino's walk over the keys, typing and
 * quoting each: about half of what an access line cost (0.94 → 0.52 µs, bench/README.md "Hot-path
 * notes"). Anything else, and an access line with an error, takes pino's way; level, time,
 * bindings, mixin and destination stay pino's.
 */
function writeAccessLinesDirectly (logger: Logger): void {
  const internals = logger as unknown as PinoInternals
  const generic = internals[symbols.asJsonSym]
  internals[symbols.asJsonSym] = function (this: Logger, obj, msg, num, time) {
    if (!(obj instanceof AccessLine) || msg !== ACCESS_MESSAGE) return generic.call(this, obj, msg, num, time)
    const self = this as unknown as PinoInternals
    return (self[symbols.lsCacheSym][num] ?? '') + time + self[symbols.chindingsSym] + accessFields(obj) +
      ',"' + self[symbols.messageKeySym] + '":"' + ACCESS_MESSAGE + '"' + self[symbols.endSym]
  }
}

/**
 * One logger for the process, writing to a batched stdout (src/platform/log-destination.ts), or
 * readable lines in development on a terminal (src/platform/pretty-logs.ts). Its mixin adds the
 * request (or job) context to every line written while that work runs, from any depth, so no
 * child logger is made per request.
 */
export function createLogger (config: Pick<Config, 'LOG_LEVEL'> & PrettySettings, destination?: DestinationStream): Logger {
  const logger = pino({
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
  writeAccessLinesDirectly(logger)
  return logger
}
