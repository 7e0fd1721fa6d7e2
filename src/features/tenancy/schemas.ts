import { Type } from '@sinclair/typebox'
import { Body, ListOf, Role, Text, Timestamp, Uuid } from '../../schemas/common.ts'

export const Tenant = Type.Object({
  id: Uuid,
  slug: Type.String(),
  name: Type.String(),
  created_at: Timestamp
})

export const NewTenantBody = Body({
  slug: Text({ minLength: 3, maxLength: 40, pattern: '^[a-z0-9](-?[a-z0-9])*$' }),
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
