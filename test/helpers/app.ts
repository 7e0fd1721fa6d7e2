import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { buildApp } from '../../src/app.ts'
import { loadConfig, type Config } from '../../src/config.ts'
import { createTestDatabase, type TestDatabase } from './database.ts'

/** The part of a tap Test these helpers use. */
export interface Teardown { teardown: (fn: () => unknown) => void }

export interface TestAppOptions {
  /** settings over the test defaults, as environment strings */
  env?: Record<string, string>
  extraPlugins?: FastifyPluginAsync[]
  /** reuse a database (two app instances sharing one) instead of making a fresh one */
  database?: TestDatabase
}

export interface TestApp {
  app: FastifyInstance
  config: Config
  db: TestDatabase
  /** every log line the app wrote, parsed */
  logs: Array<Record<string, unknown>>
}

/**
 * The environment of an app on this database (a test database, or a test's own cluster), as the
 * strings a process reads: the test defaults, then `env` over them (e.g. `REDIS_URL` of a private
 * redis-server). For an app in this process (`testConfig`) and for a child process (`spawnEntry`).
 */
export function testEnv (db: Pick<TestDatabase, 'runtimeUrl' | 'ownerUrl'>, env: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: db.runtimeUrl,
    DATABASE_OWNER_URL: db.ownerUrl,
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: `atrium-test:${randomBytes(4).toString('hex')}:`,
    // load shedding off unless a test is about it: a busy test machine must not turn answers into 503
    MAX_EVENT_LOOP_DELAY_MS: '0',
    ...env
  }
}

/**
 * The environment of a server process run as production runs it (NODE_ENV=production, fresh
 * secrets, loopback only, load shedding off: these suites are about faults and fleets, not
 * overload on shared cores), for the fault and fleet suites; `env` over it.
 */
export function productionEnv (urls: { database: string, redis: string }, redisPrefix: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    DATABASE_URL: urls.database,
    REDIS_URL: urls.redis,
    REDIS_PREFIX: `${redisPrefix}:${randomBytes(4).toString('hex')}:`,
    JWT_SECRETS: randomBytes(32).toString('hex'),
    PAYMENTS_WEBHOOK_SECRETS: randomBytes(16).toString('hex'),
    MAX_EVENT_LOOP_DELAY_MS: '0',
    ...env
  }
}

/** The settings of an app on this database, over the test defaults (`testEnv`). */
export function testConfig (db: Pick<TestDatabase, 'runtimeUrl' | 'ownerUrl'>, env: Record<string, string> = {}): Config {
  return loadConfig(testEnv(db, env), '/nonexistent/.env')
}

/** Collects pino's JSON lines in memory. */
export function logCollector (): { stream: Writable, logs: Array<Record<string, unknown>> } {
  const logs: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>)
      }
      callback()
    }
  })
  return { stream, logs }
}

/** An app on its own fresh database, closed and dropped when the test ends. */
export async function buildTestApp (t: Teardown, options: TestAppOptions = {}): Promise<TestApp> {
  const db = options.database ?? await createTestDatabase()
  const config = testConfig(db, options.env)
  const { stream, logs } = logCollector()
  const app = await buildApp(config, { logDestination: stream, extraPlugins: options.extraPlugins ?? [] })
  t.teardown(async () => {
    await app.close()
    if (options.database === undefined) await db.drop()
  })
  return { app, config, db, logs }
}
