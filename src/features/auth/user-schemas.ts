import { Type, type Static } from '@sinclair/typebox'
import { Role, Timestamp, Uuid } from '../../schemas/common.ts'

/** A user as its own account routes show it. */
export const User = Type.Object({
  id: Uuid,
  email: Type.String(),
  name: Type.String(),
  created_at: Timestamp
})
export type User = Static<typeof User>

export const MeUser = Type.Object({
  id: Uuid,
  email: Type.String(),
  name: Type.String(),
  is_staff: Type.Boolean(),
  created_at: Timestamp
})

export const MembershipSummary = Type.Object({
  tenant: Type.Object({ id: Uuid, slug: Type.String(), name: Type.String() }),
  role: Role
})

/** GET /v1/me */
export const Me = Type.Object({
  user: MeUser,
  memberships: Type.Array(MembershipSummary)
})
