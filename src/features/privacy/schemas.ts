import { Type, type Static } from '@sinclair/typebox'
import { ArticleStatus } from '../articles/index.ts'
import { AuditEntry } from '../audit/index.ts'
import { Body, Role, Timestamp, Uuid } from '../../schemas/common.ts'

export const ExportParams = Type.Object({ id: Uuid })

export const ExportStatus = Type.Union([
  Type.Literal('pending'), Type.Literal('running'), Type.Literal('ready'), Type.Literal('failed'), Type.Literal('expired')
])
export type ExportStatus = Static<typeof ExportStatus>

/** 202 of POST /v1/me/exports */
export const ExportCreated = Type.Object({
  export: Type.Object({ id: Uuid, status: Type.Literal('pending') })
})

/** GET /v1/me/exports/:id: `download_url` only when ready, `expires_at` once ready (or expired) */
export const ExportEnvelope = Type.Object({
  export: Type.Object({
    id: Uuid,
    status: ExportStatus,
    download_url: Type.Optional(Type.String({ description: 'the path to download the document from' })),
    expires_at: Type.Optional(Timestamp)
  })
})

const NullableTimestamp = Type.Union([Timestamp, Type.Null()])
const TenantRef = Type.Object({ id: Uuid, slug: Type.String(), name: Type.String() })

/** The export document: everything about the user, and nothing about anyone else. */
export const ExportDocument = Type.Object({
  format: Type.Literal('atrium-export/1'),
  export_id: Uuid,
  generated_at: Timestamp,
  user: Type.Object({
    id: Uuid,
    email: Type.String(),
    name: Type.String(),
    is_staff: Type.Boolean(),
    last_seen_at: NullableTimestamp,
    created_at: Timestamp,
    updated_at: Timestamp
  }),
  memberships: Type.Array(Type.Object({ tenant: TenantRef, role: Role, created_at: Timestamp })),
  articles: Type.Array(Type.Object({
    tenant: TenantRef,
    id: Uuid,
    title: Type.String(),
    body: Type.String(),
    status: ArticleStatus,
    tags: Type.Array(Type.String()),
    publish_at: NullableTimestamp,
    published_at: NullableTimestamp,
    created_at: Timestamp,
    updated_at: Timestamp
  }), { description: 'articles the user authored, in any tenant' }),
  audit_entries: Type.Array(Type.Object({
    tenant: Type.Object({ id: Uuid, slug: Type.String() }),
    id: Uuid,
    action: Type.String(),
    object_type: Type.String(),
    object_id: Type.String(),
    changes: AuditEntry.properties.changes,
    request_id: Type.Union([Type.String(), Type.Null()]),
    created_at: Timestamp
  }), { description: 'audit entries where the user is the actor, in any tenant' })
})
export type ExportDocument = Static<typeof ExportDocument>

/** Passwords are taken as typed, never trimmed (as at login). */
export const DeleteMeBody = Body({ password: Type.String({ minLength: 1, maxLength: 1024 }) })
