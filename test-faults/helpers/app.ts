import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { buildApp } from '../../src/app.ts'
import { loadConfig, type Config } from '../../src/config.ts'
import { logCollector, type Teardown } from '../../test/helpers/app.ts'
import type { PrivateRedis } from '../../test/helpers/redis-server.ts'
import type { PrivatePostgres } from './postgres-cluster.ts'

export interface FaultApp {
  app: FastifyInstance
  config: Config
  /** http://127.0.0.1:<port>: the app listens on a real socket, as it does behind nginx */
  baseUrl: string
  logs: Array<Record<string, unknown>>
}

/** The settings of an app on the test's own PostgreSQL and Redis. */
export function faultConfig (pg: PrivatePostgres, redis: PrivateRedis, env: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: pg.runtimeUrl,
    DATABASE_OWNER_URL: pg.ownerUrl,
    REDIS_URL: redis.url,
    REDIS_PREFIX: `atrium-faults:${randomBytes(4).toString('hex')}:`,
    // these scenarios are about dependencies and shutdown, not overload: on a busy CI machine the
    // event-loop-delay shedding (test/timeouts.test.ts) would answer 503s of its own
    MAX_EVENT_LOOP_DELAY_MS: '0',
    ...env
  }, '/nonexistent/atrium/.env')
}

/** The real app, in this process, listening on a free loopback port; closed when the test ends. */
export async function startFaultApp (
  t: Teardown,
  pg: PrivatePostgres,
  redis: PrivateRedis,
  options: { env?: Record<string, string>, extraPlugins?: FastifyPluginAsync[] } = {}
): Promise<FaultApp> {
  const config = faultConfig(pg, redis, options.env)
  const { stream, logs } = logCollector()
  const app = await buildApp(config, { logDestination: stream, extraPlugins: options.extraPlugins ?? [] })
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  return { app, config, baseUrl: `http://127.0.0.1:${port}`, logs }
}
