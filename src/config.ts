import { readFileSync } from 'node:fs'
import { parseEnv } from 'node:util'
import { envSchema } from 'env-schema'
import { Type, type Static } from '@sinclair/typebox'
import type { AjvIssue } from './platform/errors.ts'

const Milliseconds = (defaultValue: number, description: string) =>
  Type.Integer({ minimum: 1, maximum: 600_000, default: defaultValue, description })

const CommaList = (description: string) =>
  Type.String({ pattern: '^[^,]+(,[^,]+)*$', description })

/** OTEL_TRACES_SAMPLER's standard values (the OpenTelemetry SDK environment variable specification). */
export const tracesSamplers = [
  'always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'
] as const

/** Every setting Atrium reads, with its default. The one source of the Config type. */
export const ConfigSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('test'), Type.Literal('production')], {
    default: 'development'
  }),
  ROLE: Type.Union([Type.Literal('all'), Type.Literal('api'), Type.Literal('worker')], {
    default: 'all',
    description: 'all: API and worker in one process (development); api or worker in production'
  }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map(l => Type.Literal(l)), {
    default: 'info'
  }),
  LOG_PRETTY: Type.Optional(Type.Union([Type.Literal('1'), Type.Literal('0')], {
    description: 'outside production: 1 = readable logs (pino-pretty) even when stdout is no terminal, 0 = JSON even on one; unset: readable on a terminal'
  })),
  TRUST_PROXY: Type.String({
    default: 'false',
    description: "Fastify trustProxy: 'true', 'false' or a comma-separated list of proxy addresses/CIDRs"
  }),
  BASE_DOMAIN: Type.String({
    pattern: '^[a-z0-9.-]+$',
    default: 'api.localhost',
    description: 'tenant subdomains live under it: acme.<BASE_DOMAIN>'
  }),

  DATABASE_URL: Type.String({
    pattern: '^postgres(ql)?://',
    description: 'runtime connection: a role that owns no tables and has no BYPASSRLS'
  }),
  DATABASE_OWNER_URL: Type.Optional(Type.String({
    pattern: '^postgres(ql)?://',
    description: 'owner connection, used only by migrations (npm run migrate, MIGRATE_ON_START); it creates the runtime role named in DATABASE_URL'
  })),
  DATABASE_POOL_MAX: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
  DATABASE_PREPARE: Type.Boolean({
    default: true,
    description: 'named prepared statements (postgres.js prepare); false behind PgBouncer 1.18 in transaction mode, which cannot keep them'
  }),
  DATABASE_LISTEN_URL: Type.Optional(Type.String({
    pattern: '^postgres(ql)?://',
    description: "the worker relay's LISTEN connection, straight to PostgreSQL (a session: not through PgBouncer in transaction mode); default DATABASE_URL"
  })),
  DATABASE_STATEMENT_TIMEOUT_MS: Milliseconds(30_000, 'role-level statement_timeout backstop for the runtime role'),
  SLOW_QUERY_MS: Milliseconds(500, 'queries slower than this are logged with the request id'),
  REDIS_URL: Type.String({ pattern: '^rediss?://' }),
  REDIS_PREFIX: Type.String({ pattern: '^[A-Za-z0-9:_-]+$', default: 'atrium:', description: 'prefix of every Redis key and channel' }),

  JWT_SECRETS: CommaList('HS256 secrets, comma-separated: the first signs, all verify (rotation)'),
  ACCESS_TOKEN_TTL_S: Type.Integer({ minimum: 30, maximum: 86_400, default: 900 }),
  REFRESH_TOKEN_TTL_S: Type.Integer({ minimum: 300, maximum: 31_536_000, default: 2_592_000 }),
  AUTH_RATE_LIMIT_PER_IP: Type.Integer({ minimum: 1, default: 10, description: 'login/register per minute per IP' }),
  AUTH_RATE_LIMIT_PER_EMAIL: Type.Integer({ minimum: 1, default: 5, description: 'login/register per minute per email' }),
  PAYMENTS_WEBHOOK_SECRETS: CommaList('payment provider HMAC secrets, comma-separated (rotation)'),
  SMTP_URL: Type.String({ pattern: '^smtps?://', default: 'smtp://127.0.0.1:2525' }),
  MAIL_FROM: Type.String({ minLength: 3, default: 'Atrium <no-reply@atrium.localhost>' }),
  EXPORT_TTL_S: Type.Integer({ minimum: 60, default: 86_400 }),

  REQUEST_TIMEOUT_MS: Milliseconds(5_000, 'default per-route time budget (route config.timeout overrides)'),
  LOCK_TIMEOUT_MS: Milliseconds(2_000, 'lock_timeout inside a request transaction (capped by the budget)'),
  KEEP_ALIVE_TIMEOUT_MS: Milliseconds(75_000, 'must exceed nginx upstream keepalive_timeout (4 s)'),
  HEADERS_TIMEOUT_MS: Milliseconds(20_000, 'time allowed to receive request headers'),
  CONNECTION_REQUEST_TIMEOUT_MS: Milliseconds(30_000, "Node's requestTimeout: whole request received within"),
  SHUTDOWN_DELAY_MS: Type.Integer({
    minimum: 0,
    maximum: 120_000,
    default: 0,
    description: 'after SIGTERM /readyz answers 503 (and responses say Connection: close) for this long before the server stops accepting; above nginx upstream keepalive_timeout (4 s)'
  }),
  SHUTDOWN_GRACE_MS: Milliseconds(10_000, 'in-flight requests and jobs may finish within this, then the process exits'),
  MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, default: 1_000, description: 'load shedding threshold, 0 = off' }),
  MAX_HEAP_USED_BYTES: Type.Integer({ minimum: 0, default: 0, description: 'load shedding threshold, 0 = off' }),

  METRICS_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 0, description: '0: /metrics on the API port' }),
  CORS_ORIGINS: Type.String({ default: '', description: 'comma-separated allowed origins; empty: CORS off' }),
  WORKER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
  WORKER_JOB_LOCK_MS: Type.Integer({
    minimum: 5_000,
    maximum: 600_000,
    default: 30_000,
    description: "a running job's lock (BullMQ lockDuration, renewed at half of it, and the stalled-job check interval): a job of a worker that died is retried by another within about twice this"
  }),
  LAST_SEEN_FLUSH_MS: Milliseconds(60_000, 'how often the worker moves last-seen times from Redis to users.last_seen_at'),
  MIGRATE_ON_START: Type.Boolean({ default: false, description: 'run migrations before serving (always on in development)' }),
  SEED_ON_START: Type.Boolean({ default: false, description: 'seed a demo tenant on an empty database (always on in development)' }),

  // OpenTelemetry traces (src/platform/telemetry/): the standard OTEL_* variables, off unless an endpoint is set
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String({
    pattern: '^https?://',
    description: 'OTLP/HTTP base URL (traces go to <url>/v1/traces); unset with OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: tracing off'
  })),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Type.Optional(Type.String({
    pattern: '^https?://',
    description: 'OTLP/HTTP URL that receives traces, used as given (wins over OTEL_EXPORTER_OTLP_ENDPOINT)'
  })),
  OTEL_EXPORTER_OTLP_PROTOCOL: Type.Union([Type.Literal('http/protobuf'), Type.Literal('http/json')], {
    default: 'http/protobuf',
    description: 'OTLP over HTTP: http/protobuf or http/json (grpc is not supported)'
  }),
  OTEL_SERVICE_NAME: Type.Optional(Type.String({ minLength: 1, description: 'service.name of the spans; default atrium' })),
  OTEL_RESOURCE_ATTRIBUTES: Type.String({ default: '', description: 'more resource attributes: key=value,key=value (values percent-encoded)' }),
  OTEL_TRACES_SAMPLER: Type.Union(tracesSamplers.map(name => Type.Literal(name)), {
    default: 'parentbased_always_on',
    description: 'which traces are recorded: parentbased_traceidratio follows the caller and samples new traces by OTEL_TRACES_SAMPLER_ARG'
  }),
  OTEL_TRACES_SAMPLER_ARG: Type.Number({ minimum: 0, maximum: 1, default: 1, description: 'the ratio of the *traceidratio samplers, 0 to 1' })
})

/** The settings as the environment gives them, validated. */
export type Settings = Static<typeof ConfigSchema>

/**
 * The settings, and the list-valued ones parsed once here (the raw strings stay, for logs and
 * tests): a bad entry stops the start with the other problems, and no user splits a string again.
 */
export interface Config extends Settings {
  /** TRUST_PROXY as Fastify's `trustProxy`: true, false, or the proxy addresses/CIDRs */
  readonly trustProxy: boolean | readonly string[]
  /** CORS_ORIGINS as exact origins; empty: CORS off */
  readonly corsOrigins: ReadonlySet<string>
  /** JWT_SECRETS: the first signs, all verify */
  readonly jwtSecrets: readonly [string, ...string[]]
  /** PAYMENTS_WEBHOOK_SECRETS: any of them may sign a delivery */
  readonly webhookSecrets: readonly [string, ...string[]]
}
export type Environment = Record<string, string | undefined>

const DEV_JWT_SECRET = 'development-only-jwt-secret-change-me-0123456789'
const DEV_WEBHOOK_SECRET = 'development-only-webhook-secret'

/** Defaults that make `npm start` work on a developer's machine; production gets none of them. */
function developmentDefaults (env: Environment): Environment {
  if (env.NODE_ENV === 'production') return {}
  return {
    DATABASE_URL: 'postgres://atrium_app@127.0.0.1:5432/atrium',
    DATABASE_OWNER_URL: 'postgres://postgres@127.0.0.1:5432/atrium',
    REDIS_URL: 'redis://127.0.0.1:6379',
    JWT_SECRETS: DEV_JWT_SECRET,
    PAYMENTS_WEBHOOK_SECRETS: DEV_WEBHOOK_SECRET
  }
}

export class ConfigError extends Error {
  constructor (readonly problems: string[]) {
    super(`Invalid settings:\n${problems.map(p => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

function describe (issue: AjvIssue): string | undefined {
  // a union of literals fails once per literal ('const') and once as a whole ('anyOf'): say it once
  if (issue.keyword === 'const') return undefined
  const name = issue.keyword === 'required'
    ? String(issue.params.missingProperty)
    : issue.instancePath.replace(/^\//, '')
  const expected: { description?: string, anyOf?: Array<{ const?: unknown }> } | undefined =
    ConfigSchema.properties[name as keyof typeof ConfigSchema.properties]
  const hint = expected?.description ? ` (${expected.description})` : ''
  if (issue.keyword === 'required') return `${name}: is required${hint}`
  if (issue.keyword === 'anyOf' && expected?.anyOf !== undefined) {
    return `${name}: must be one of ${expected.anyOf.map(option => String(option.const)).join(', ')}${hint}`
  }
  return `${name}: ${issue.message ?? 'is invalid'}${hint}`
}

type SecretSettings = Partial<Record<'NODE_ENV' | 'JWT_SECRETS' | 'PAYMENTS_WEBHOOK_SECRETS', string>>

/** JWT (HS256) keys need as much entropy as the hash output; webhook secrets at least 128 bits. */
export const MIN_JWT_SECRET_BITS = 256
export const MIN_WEBHOOK_SECRET_BITS = 128

const HEX = /^[0-9a-fA-F]+$/
const BASE64_SYMBOLS = /^[A-Za-z0-9+/=_-]+$/

/**
 * An upper bound on a secret's entropy in bits: length × log2(alphabet). The alphabet is 16 for
 * hex, at most 64 for base64/base64url, otherwise the character classes present (26 lower-case,
 * 26 upper-case, 10 digits, 33 others). It cannot tell a random string from a phrase of the same
 * alphabet, so it refuses what is too short or too plain to be a generated key
 * (`openssl rand -base64 32` scores 264), not every weak one.
 */
export function estimatedEntropyBits (secret: string): number {
  const classes = (/[a-z]/.test(secret) ? 26 : 0) + (/[A-Z]/.test(secret) ? 26 : 0) +
    (/[0-9]/.test(secret) ? 10 : 0) + (/[^a-zA-Z0-9]/.test(secret) ? 33 : 0)
  const alphabet = HEX.test(secret) ? 16 : BASE64_SYMBOLS.test(secret) ? Math.min(64, classes) : classes
  return alphabet < 2 ? 0 : [...secret].length * Math.log2(alphabet)
}

/** Why a production secret is refused, or undefined when it is acceptable. */
function secretProblem (secret: string, minimumBits: number, developmentSecret: string): string | undefined {
  if (secret === '') return 'is empty'
  if (secret === developmentSecret) return 'is the development one'
  if (/change-me/i.test(secret)) return 'is a placeholder (contains change-me)'
  if (new Set(secret).size < 2) return 'is one character repeated'
  const bits = Math.floor(estimatedEntropyBits(secret))
  if (bits < minimumBits) return `has about ${bits} bits of entropy, fewer than ${minimumBits} (generate one: openssl rand -base64 ${minimumBits / 8})`
  return undefined
}

function secretListProblem (name: string, value: string | undefined, minimumBits: number, developmentSecret: string): string | undefined {
  const problems = (value?.split(',') ?? []).map((secret, index) => {
    const problem = secretProblem(secret, minimumBits, developmentSecret)
    return problem === undefined ? undefined : `secret ${index + 1} ${problem}`
  }).filter(problem => problem !== undefined)
  return problems.length === 0 ? undefined : `${name}: ${problems.join('; ')}`
}

/** Checked on the raw values too, so that one message names these along with any schema problem. */
function productionProblems (config: SecretSettings): string[] {
  if (config.NODE_ENV !== 'production') return []
  return [
    secretListProblem('JWT_SECRETS', config.JWT_SECRETS, MIN_JWT_SECRET_BITS, DEV_JWT_SECRET),
    secretListProblem('PAYMENTS_WEBHOOK_SECRETS', config.PAYMENTS_WEBHOOK_SECRETS, MIN_WEBHOOK_SECRET_BITS, DEV_WEBHOOK_SECRET)
  ].filter(problem => problem !== undefined)
}

/**
 * Reads and validates every setting once. Outside production a `.env` file in the working
 * directory is read too, and development defaults fill what is missing.
 * Throws ConfigError naming every bad variable.
 */
export function loadConfig (env: Environment = process.env, dotenvPath = '.env'): Config {
  const fromFile = env.NODE_ENV === 'production' ? {} : readDotenv(dotenvPath)
  let settings: Settings
  try {
    settings = envSchema<Settings>({
      schema: structuredClone(ConfigSchema),
      data: [developmentDefaults({ ...fromFile, ...env }), withoutEmptyOtel(fromFile), withoutEmptyOtel(env)],
      env: false
    })
  } catch (error) {
    const issues = (error as { errors?: AjvIssue[] }).errors
    if (!issues) throw error
    const described = issues.map(describe).filter(problem => problem !== undefined)
    throw new ConfigError([...new Set([...described, ...productionProblems(env)])])
  }
  const problems = productionProblems(settings)
  if (settings.NODE_ENV === 'production' && settings.LOG_PRETTY === '1') {
    problems.push('LOG_PRETTY: production logs are JSON (pino-pretty is a development dependency, not in the image)')
  }
  const corsOrigins = parseCorsOrigins(settings.CORS_ORIGINS)
  if (typeof corsOrigins === 'string') problems.push(corsOrigins)
  if (problems.length > 0 || typeof corsOrigins === 'string') throw new ConfigError(problems)
  return {
    ...settings,
    trustProxy: parseTrustProxy(settings.TRUST_PROXY),
    corsOrigins,
    jwtSecrets: nonEmptyList('JWT_SECRETS', settings.JWT_SECRETS),
    webhookSecrets: nonEmptyList('PAYMENTS_WEBHOOK_SECRETS', settings.PAYMENTS_WEBHOOK_SECRETS)
  }
}

/**
 * An OTEL_* variable set to the empty string counts as unset, as the OpenTelemetry specification
 * has it (a template that leaves OTEL_EXPORTER_OTLP_ENDPOINT empty means tracing off, not an error).
 */
function withoutEmptyOtel (env: Environment): Environment {
  const empty = Object.keys(env).filter(name => name.startsWith('OTEL_') && env[name] === '')
  if (empty.length === 0) return env
  const copy = { ...env }
  for (const name of empty) delete copy[name]
  return copy
}

function parseTrustProxy (value: string): boolean | string[] {
  if (value === 'true') return true
  if (value === 'false' || value === '') return false
  return splitList(value)
}

/** CORS_ORIGINS as a set of exact origins, or the problem with it. */
export function parseCorsOrigins (setting: string): Set<string> | string {
  const origins = splitList(setting)
  const bad = origins.filter(origin => !URL.canParse(origin) || new URL(origin).origin !== origin)
  if (bad.length > 0) return `CORS_ORIGINS: ${bad.join(', ')} is not an origin (scheme://host[:port], no path or trailing slash)`
  return new Set(origins)
}

/** A CommaList setting (its pattern allows no empty entry) as its entries. */
function nonEmptyList (name: string, value: string): [string, ...string[]] {
  const [first, ...rest] = splitList(value)
  if (first === undefined) throw new ConfigError([`${name}: has no entry`])
  return [first, ...rest]
}

function readDotenv (path: string): Environment {
  try {
    return parseEnv(readFileSync(path, 'utf8'))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw error
  }
}

export function splitList (value: string): string[] {
  return value.split(',').map(s => s.trim()).filter(s => s.length > 0)
}
