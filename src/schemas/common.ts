import { Type, type IntegerOptions, type Static, type StringOptions, type TSchema } from '@sinclair/typebox'
import { UUID_PATTERN } from '../platform/ids.ts'

/** A client-supplied string, trimmed before validation (see trim.ts). */
export const Text = (options: StringOptions = {}) => Type.String({ ...options, 'x-trim': true })

/** A UUID as PostgreSQL reads it: format 'uuid' alone also lets `urn:uuid:…` through, which PostgreSQL refuses */
export const Uuid = Type.String({ format: 'uuid', pattern: UUID_PATTERN })
/** RFC 3339 in UTC; the Date objects postgres.js returns serialize to it */
export const Timestamp = Type.Unsafe<Date | string>({ type: 'string', format: 'date-time' })

/**
 * What a service returns for a response schema: `Static<S>` with every Timestamp (Date or string
 * to the serializer) narrowed to the Date postgres.js reads, at any depth. Derive a service's type
 * from the schema its route answers with, rather than restating the fields.
 */
export type Loaded<S extends TSchema> = Dated<Static<S>>
type Dated<T> =
  unknown extends T ? T
    : Date extends T ? Exclude<T, string>
      : T extends object ? { [K in keyof T]: Dated<T[K]> }
        : T
/** an email address as the API checks it: something@something, no whitespace */
export const EMAIL_PATTERN = '^[^\\s@]+@[^\\s@]+$'
export const Email = Text({ minLength: 3, maxLength: 254, pattern: EMAIL_PATTERN })

/**
 * An integer a client sends (query, path or body). Ajv's type coercion turns the strings
 * "Infinity" and "1e400" into Infinity and then skips minimum and maximum, which look at finite
 * numbers only; the inner type check sees the coerced value and refuses it.
 */
export const FiniteInteger = (options: IntegerOptions = {}) => Type.Integer({ ...options, allOf: [{ type: 'integer' }] })

export const ListQuery = Type.Object({
  limit: FiniteInteger({ minimum: 1, maximum: 100, default: 20 }),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 }))
})

export const ListOf = <T extends TSchema>(item: T) => Type.Object({
  data: Type.Array(item),
  next_cursor: Type.Union([Type.String(), Type.Null()])
})

/**
 * A member's role in a tenant, highest first: the one list of roles (API.md, Roles). What each
 * role may do is tenancy's permission table (src/features/tenancy/permissions.ts).
 */
export const roles = ['owner', 'admin', 'editor', 'viewer'] as const
export const Role = Type.Union(roles.map(role => Type.Literal(role)))
export type Role = typeof roles[number]

/** Body schemas reject what they do not know. */
export const Body = <T extends Parameters<typeof Type.Object>[0]>(properties: T) =>
  Type.Object(properties, { additionalProperties: false })
