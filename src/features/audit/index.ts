/**
 * The append-only audit log: recording an entry inside a write, and reading a tenant's log. The
 * public entry of the feature: other features, plugins and routes import from here.
 */
export * from './schemas.ts'
export { AuditService, diff, recordAudit, type AuditAction, type FieldChanges } from './service.ts'
