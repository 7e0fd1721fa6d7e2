import { Type, type Static } from '@sinclair/typebox'
import { Body, FiniteInteger, ListOf, Text, Timestamp, Uuid } from '../../schemas/common.ts'

export const FLAG_KEY_PATTERN = '^[a-z0-9-]{1,64}$'
export const FlagKey = Type.String({ pattern: FLAG_KEY_PATTERN })

export const Flag = Type.Object({
  key: Type.String(),
  description: Type.String(),
  enabled: Type.Boolean(),
  internal_only: Type.Boolean(),
  tenants: Type.Array(Uuid),
  percentage: Type.Integer(),
  updated_at: Timestamp
})

export const FlagEnvelope = Type.Object({ flag: Flag })
export const FlagList = ListOf(Flag)
export const FlagParams = Type.Object({ key: FlagKey })

/** PUT replaces the flag whole: every field is required. */
export const FlagBody = Body({
  description: Text({ minLength: 1, maxLength: 500 }),
  enabled: Type.Boolean(),
  internal_only: Type.Boolean(),
  tenants: Type.Array(Uuid, { maxItems: 1000 }),
  percentage: FiniteInteger({ minimum: 0, maximum: 100 })
})
export type FlagBody = Static<typeof FlagBody>

/** `GET /v1/features`: every flag the caller may know of, true when on for it. */
export const Features = Type.Object({
  features: Type.Record(Type.String(), Type.Boolean())
})
