import type { Actor, Role } from '../features/tenancy/index.ts'

/** What actorOf reads of a request: its principal (plugins/auth.ts) and its role in the tenant (plugins/tenancy.ts). */
interface ActingRequest {
  principal: { userId: string } | null
  role: Role | null
}

/**
 * The member acting in the request's tenant, for the services that change it. Only for routes
 * that demand a permission: the permission check has set both principal and role by then.
 */
export const actorOf = (request: ActingRequest): Actor => ({ userId: request.principal!.userId, role: request.role! })
