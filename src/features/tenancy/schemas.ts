import { Type } from '@sinclair/typebox'
import { Body, ListOf, Role, Text, Timestamp, Uuid } from '../../schemas/common.ts'

export const Tenant = Type.Object({
  id: Uuid,
  slug: Type.String(),
  name: Type.String(),
  created_at: Timestamp
})

/** a tenant slug: lower-case letters and digits, single hyphens between them (3..40 by NewTenantBody) */
export const SLUG_PATTERN = '^[a-z0-9](-?[a-z0-9])*$'

export const NewTenantBody = Body({
  slug: Text({ minLength: 3, maxLength: 40, pattern: SLUG_PATTERN }),
  name: Text({ minLength: 1, maxLength: 200 })
})

export const Member = Type.Object({
  user: Type.Object({ id: Uuid, name: Type.String(), email: Type.String() }),
  role: Role,
  created_at: Timestamp
})

export const MemberList = ListOf(Member)
export const NewMemberBody = Body({ email: Text({ minLength: 3, maxLength: 254 }), role: Role })
export const RoleChangeBody = Body({ role: Role })
export const MemberParams = Type.Object({ user_id: Uuid })
