import type { AddressInfo } from 'node:net'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { buildApp } from '../../src/app.ts'
import type { Config } from '../../src/config.ts'
import { logCollector, testConfig, type Teardown } from '../../test/helpers/app.ts'
import type { PrivateRedis } from '../../test/helpers/redis-server.ts'
import type { PrivatePostgres } from './postgres-cluster.ts'

export interface FaultApp {
  app: FastifyInstance
  config: Config
  /** http://127.0.0.1:<port>: the app listens on a real socket, as it does behind nginx */
  baseUrl: string
  logs: Array<Record<string, unknown>>
  /** GET /readyz over the socket (5 s at most): its status and body */
  readyz: () => Promise<{ status: number, body: Readiness }>
}

export interface Readiness { status: string, checks: { postgres: string, redis: string } }

/** The real app, in this process, listening on a free loopback port; closed when the test ends. */
export async function startFaultApp (
  t: Teardown,
  pg: PrivatePostgres,
  redis: PrivateRedis,
  options: { env?: Record<string, string>, extraPlugins?: FastifyPluginAsync[] } = {}
): Promise<FaultApp> {
  const config = testConfig(pg, { REDIS_URL: redis.url, ...options.env })
  const { stream, logs } = logCollector()
  const app = await buildApp(config, { logDestination: stream, extraPlugins: options.extraPlugins ?? [] })
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const baseUrl = `http://127.0.0.1:${port}`
  const readyz = async (): Promise<{ status: number, body: Readiness }> => {
    const response = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(5_000) })
    return { status: response.status, body: await response.json() as Readiness }
  }
  return { app, config, baseUrl, logs, readyz }
}
