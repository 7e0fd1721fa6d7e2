import { buildApp } from '../../src/app.ts'
import { ConfigError, loadConfig } from '../../src/config.ts'
import { benchProbes } from './probes.ts'
import { serveForBench } from './serve.ts'

/**
 * The real app as production builds it (the harness sets NODE_ENV=production and the rest of the
 * environment), logging to stdout, which the harness points at a file: logging is part of the cost.
 * The bench probe routes (./probes.ts) are the only addition.
 */
try {
  const app = await buildApp(loadConfig(process.env), { extraPlugins: [benchProbes] })
  await serveForBench(app)
} catch (error) {
  process.stderr.write(`atrium bench server: ${error instanceof ConfigError ? error.message : (error as Error).stack ?? String(error)}\n`)
  process.exit(1)
}
