import Fastify, { type FastifyPluginAsync } from 'fastify'
import { serveForBench } from './serve.ts'

/**
 * The baseline: the same Fastify as Atrium, logger off, no plugins. Each route answers with a
 * response schema, as Atrium's routes do, so both serialize through fast-json-stringify.
 */
const helloRoute: FastifyPluginAsync = async (app) => {
  app.get('/hello', {
    schema: {
      response: {
        200: { type: 'object', properties: { hello: { type: 'string' } }, required: ['hello'] }
      }
    }
  }, async () => ({ hello: 'world' }))
}

/** Every bare route; a baseline for a new Atrium route is one more plugin here. */
const routes: FastifyPluginAsync[] = [helloRoute]

const app = Fastify({ logger: false })
for (const route of routes) await app.register(route)
await serveForBench(app)
