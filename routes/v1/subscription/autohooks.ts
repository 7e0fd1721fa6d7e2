export { tenantScopedFolder as default } from '../../../src/http/folder-hooks.ts'
