import { randomBytes } from 'node:crypto'

/** A time-ordered UUID (RFC 9562 version 7), made here when the id is needed before the INSERT. */
export function uuidv7 (now = Date.now()): string {
  const bytes = randomBytes(16)
  bytes.writeUIntBE(now, 0, 6)
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x70
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/**
 * A UUID in its 8-4-4-4-12 hex spelling, either case, as PostgreSQL reads it: the one definition
 * of the pattern (the Uuid schema validates with it, src/schemas/common.ts). Format 'uuid' alone
 * also lets `urn:uuid:…` through, which PostgreSQL refuses.
 */
export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
/** UUID_PATTERN as a RegExp: any UUID PostgreSQL accepts, either case */
export const UUID = new RegExp(UUID_PATTERN)

/**
 * A UUID spelled as PostgreSQL and uuidv7 print it: lower-case. For ids this API issued (token
 * claims, cursors) and keys lower-cased before the check, where an upper-case spelling of the same
 * id is not the key.
 */
export const isLowercaseUuid = (value: string): boolean => UUID.test(value) && value === value.toLowerCase()
