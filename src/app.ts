import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyContextConfig, type FastifyInstance, type FastifyPluginAsync, type FastifySchema } from 'fastify'
import autoload from '@fastify/autoload'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { DestinationStream } from 'pino'
import type { Config } from './config.ts'
import { createLogger } from './platform/logger.ts'
import { fastifyLogger, serverOptions } from './http/server-options.ts'
import type { Telemetry } from './platform/telemetry/index.ts'

const root = fileURLToPath(new URL('..', import.meta.url))

// Under tsx (npm start, tests) autoload must be told it may import .ts files; compiled builds load .js.
if (import.meta.url.endsWith('.ts')) process.env.FASTIFY_AUTOLOAD_TYPESCRIPT ??= '1'

export interface RouteEntry {
  readonly method: string
  readonly url: string
  readonly config: FastifyContextConfig
  /** the route's schemas (body, querystring, params, headers, response), for suites that generate requests */
  readonly schema: FastifySchema | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    routeTable: readonly RouteEntry[]
  }
}

export interface BuildOptions {
  /** where log lines go (tests capture them); stdout by default */
  logDestination?: DestinationStream
  /** registered after the routes, before ready: tests add probe routes here */
  extraPlugins?: FastifyPluginAsync[]
  /** tracing for this process (startTelemetry); absent: off */
  telemetry?: Telemetry
}

/** The Atrium app, plugins and routes registered and ready; not listening. */
export async function buildApp (config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: fastifyLogger(createLogger(config, options.logDestination)),
    ...serverOptions(config)
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.server.headersTimeout = config.HEADERS_TIMEOUT_MS
  app.decorate('config', config)
  app.decorate('telemetry', options.telemetry)
  // before every plugin and route: @fastify/otel must see each route to open its server span
  if (options.telemetry !== undefined) await app.register(options.telemetry.fastifyPlugin)
  // every route with its final config, for the suites that walk all routes (isolation, permissions)
  const routeTable: RouteEntry[] = []
  app.decorate('routeTable', routeTable)
  app.addHook('onRoute', route => {
    // later onRoute hooks replace route.config (tenancy, timeouts): read it when asked
    for (const method of [route.method].flat()) {
      routeTable.push({ method, url: route.url, get config () { return route.config ?? {} }, get schema () { return route.schema } })
    }
  })

  await app.register(autoload, { dir: join(root, 'plugins'), encapsulate: false })
  await app.register(autoload, {
    dir: join(root, 'routes'),
    autoHooks: true,
    cascadeHooks: true,
    routeParams: true
  })
  for (const plugin of options.extraPlugins ?? []) await app.register(plugin)
  await app.ready()
  return app
}
