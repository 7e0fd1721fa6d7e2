import { buildApp } from '../../src/app.ts'
import { ConfigError, loadConfig } from '../../src/config.ts'
import { createLogger } from '../../src/platform/logger.ts'
import { startTelemetry } from '../../src/platform/telemetry/index.ts'
import { benchProbes } from './probes.ts'
import { serveForBench } from './serve.ts'

/**
 * The real app as production builds it (the harness sets NODE_ENV=production and the rest of the
 * environment), logging to stdout, which the harness points at a file: logging is part of the cost.
 * The bench probe routes (./probes.ts) are the only addition. With OTEL_EXPORTER_OTLP_ENDPOINT set
 * (the traced scenario) it traces as src/server.ts does; without, nothing of tracing is loaded.
 */
try {
  const config = loadConfig(process.env)
  const telemetry = await startTelemetry(config, createLogger(config))
  const app = await buildApp(config, { extraPlugins: [benchProbes], ...(telemetry === undefined ? {} : { telemetry }) })
  await serveForBench(app)
} catch (error) {
  process.stderr.write(`atrium bench server: ${error instanceof ConfigError ? error.message : (error as Error).stack ?? String(error)}\n`)
  process.exit(1)
}
