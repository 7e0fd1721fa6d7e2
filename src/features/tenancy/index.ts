/**
 * Tenants and their members: creation, membership and roles, the tenant directory and its caches.
 * The public entry of the feature: other features, plugins and routes import from here.
 */
export * from './schemas.ts'
export { assertCurrentRole, type Actor } from './actor-role.ts'
export { MembersService } from './members.ts'
export { atLeast, can, permissions, roles, type Role, type RouteAccess } from './permissions.ts'
// the directory's row (created_at a Date), not the Tenant schema above
export { TenantDirectory, isTenantKey, type Tenant as TenantRow } from './tenant-directory.ts'
export { TenantsService } from './tenants.ts'
