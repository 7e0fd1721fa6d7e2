import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AuditList, AuditQuery } from '../../../src/features/audit/schemas.ts'
import { listAudit } from '../../../src/features/audit/service.ts'

const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/', {
    config: { permission: 'audit:read' },
    schema: { summary: "The tenant's audit log, newest first", tags: ['audit'], querystring: AuditQuery, response: { 200: AuditList } }
  }, async (request) => {
    const { limit, cursor, ...filters } = request.query
    return listAudit(app.db, request.tenant!.id, filters, limit, cursor)
  })
}

export default auditRoutes
