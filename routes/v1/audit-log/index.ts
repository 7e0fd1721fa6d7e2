import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AuditList, AuditQuery } from '../../../src/features/audit/index.ts'

const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const audit = app.services.audit

  app.get('/', {
    config: { permission: 'audit:read' },
    schema: { summary: "The tenant's audit log, newest first", tags: ['audit'], querystring: AuditQuery, response: { 200: AuditList } }
  }, async (request) => {
    const { limit, cursor, ...filters } = request.query
    return audit.list(request.tenant!.id, filters, limit, cursor)
  })
}

export default auditRoutes
