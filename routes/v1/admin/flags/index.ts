import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ListQuery } from '../../../../src/schemas/common.ts'
import { FlagBody, FlagEnvelope, FlagList, FlagParams } from '../../../../src/features/flags/index.ts'

const tags = ['flags']

const flagAdminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const flags = app.services.flags

  app.get('/', {
    config: { permission: 'staff' },
    schema: { summary: 'List every feature flag, ordered by key (staff)', tags, querystring: ListQuery, response: { 200: FlagList } }
  }, async (request) => flags.list(request.query.limit, request.query.cursor))

  app.put('/:key', {
    config: { permission: 'staff' },
    schema: {
      summary: 'Create a feature flag or replace it whole (staff); every instance serves it within seconds',
      tags,
      params: FlagParams,
      body: FlagBody,
      response: { 200: FlagEnvelope }
    }
  }, async (request) => ({ flag: await flags.put(request.params.key, request.body) }))
}

export default flagAdminRoutes
