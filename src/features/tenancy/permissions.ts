import type { Role } from '../../schemas/common.ts'

/** API.md's permission table: the one place that maps roles (listed in src/schemas/common.ts) to permissions. */
export { roles, type Role } from '../../schemas/common.ts'

export const permissions = [
  'articles:read',
  'articles:write',
  'articles:publish',
  'members:read',
  'members:manage',
  'audit:read',
  'billing:read'
] as const
export type Permission = typeof permissions[number]

/** The lowest role that holds each permission; every higher role holds it too. */
const lowestRole: Record<Permission, Role> = {
  'articles:read': 'viewer',
  'articles:write': 'editor',
  'articles:publish': 'editor',
  'members:read': 'viewer',
  'members:manage': 'admin',
  'audit:read': 'admin',
  'billing:read': 'admin'
}

const rank: Record<Role, number> = { owner: 4, admin: 3, editor: 2, viewer: 1 }

export function outranks (role: Role, other: Role): boolean {
  return rank[role] > rank[other]
}

export function atLeast (role: Role, minimum: Role): boolean {
  return rank[role] >= rank[minimum]
}

const grantsOf = (role: Role): ReadonlySet<Permission> => new Set(permissions.filter(p => atLeast(role, lowestRole[p])))
const granted: Record<Role, ReadonlySet<Permission>> = {
  owner: grantsOf('owner'),
  admin: grantsOf('admin'),
  editor: grantsOf('editor'),
  viewer: grantsOf('viewer')
}

export function can (role: Role, permission: Permission): boolean {
  return granted[role].has(permission)
}

/**
 * What a route demands, declared in its config:
 * - a Permission: a member of the request's tenant whose role grants it;
 * - 'member': any member of the request's tenant;
 * - 'authenticated': any signed-in user, no tenant involved;
 * - 'staff': a platform staff user.
 * Routes that need nothing say `public: true` instead.
 */
export type RouteAccess = Permission | 'member' | 'authenticated' | 'staff'
