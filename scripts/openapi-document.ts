import { buildApp } from '../src/app.ts'
import { loadConfig, type Config } from '../src/config.ts'

/**
 * The OpenAPI document the app serves at /openapi.json, from an app built (not listening) with
 * these settings: the development defaults unless the environment says otherwise. The app's
 * plugins connect lazily, so PostgreSQL and Redis need not hold anything yet.
 */
export async function openapiDocument (config: Config = loadConfig({ LOG_LEVEL: 'error', ...process.env })): Promise<unknown> {
  const app = await buildApp(config)
  try {
    // what the /openapi.json route sends, without its hooks (load shedding, rate limits)
    return JSON.parse(JSON.stringify(app.swagger())) as unknown
  } finally {
    await app.close()
  }
}
