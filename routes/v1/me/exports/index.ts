import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ExportCreated, ExportDocument, ExportEnvelope, ExportParams } from '../../../../src/features/privacy/index.ts'

const tags = ['privacy']

/** GDPR data exports of the caller (API.md Privacy); Cache-Control: no-store from the /v1/me folder. */
const exportsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const privacy = app.services.privacy

  app.post('/', {
    config: { permission: 'authenticated' },
    schema: {
      summary: 'Request an export of all of the caller\'s data',
      description: 'A job gathers the data of every tenant; poll the export until it is ready. ' +
        'While an export of the caller is still pending, the request answers that export instead of queuing another. ' +
        'At most 5 exports in any 24 h: then 429 `rate_limited` with `Retry-After`. An export holds the articles and audit ' +
        'entries of the tenants the caller still belongs to.',
      tags,
      response: { 202: ExportCreated }
    }
  }, async (request, reply) => {
    const created = await privacy.requestExport(request.principal!.userId)
    reply.code(202)
    return { export: created }
  })

  app.get('/:id', {
    config: { permission: 'authenticated' },
    schema: {
      summary: 'The state of one of the caller\'s exports',
      tags,
      params: ExportParams,
      response: { 200: ExportEnvelope }
    }
  }, async (request) => ({ export: await privacy.exportStatus(request.principal!.userId, request.params.id) }))

  app.get('/:id/download', {
    config: { permission: 'authenticated' },
    schema: {
      summary: 'Download a ready export as a JSON document',
      description: 'Only for the user who requested it, until `expires_at`; otherwise 404 `not_found`.',
      tags,
      params: ExportParams,
      response: { 200: ExportDocument }
    }
  }, async (request, reply) => {
    const document = await privacy.exportDocument(request.principal!.userId, request.params.id)
    reply.header('content-disposition', `attachment; filename="atrium-export-${request.params.id}.json"`)
    return document
  })
}

export default exportsRoutes
