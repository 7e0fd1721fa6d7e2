import { Type } from '@sinclair/typebox'
import { ListOf, ListQuery, Timestamp, Uuid } from '../../schemas/common.ts'

export const AuditEntry = Type.Object({
  id: Uuid,
  actor: Type.Union([Type.Object({ id: Uuid, name: Type.String() }), Type.Null()]),
  action: Type.String(),
  object_type: Type.String(),
  object_id: Type.String(),
  /** `{ field: [old, new] }` */
  changes: Type.Record(Type.String(), Type.Unsafe<[unknown, unknown]>({ type: 'array', items: {}, minItems: 2, maxItems: 2 })),
  request_id: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp
})

export const AuditQuery = Type.Composite([ListQuery, Type.Object({
  object_type: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  object_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  actor_id: Type.Optional(Uuid)
})])

export const AuditList = ListOf(AuditEntry)
