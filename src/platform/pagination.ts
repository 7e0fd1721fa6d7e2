import { validationFailed } from './errors.ts'
import { isLowercaseUuid } from './ids.ts'

/** An opaque keyset cursor: the sort key of the last row, base64url JSON. */
export function encodeCursor (key: readonly [string, string]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url')
}

/** Years 0001-9999 as Date#toISOString prints them; PostgreSQL has no year 0 (22008). */
const yearPattern = /^(?!0000)\d{4}-/

/**
 * True for exactly what Date#toISOString prints for an instant PostgreSQL can store: a timestamp
 * that only looks right (month 13, February 30, hour 24) does not survive the round trip.
 */
function isIssuedTimestamp (value: string): boolean {
  if (!yearPattern.test(value)) return false
  const time = Date.parse(value)
  return !Number.isNaN(time) && new Date(time).toISOString() === value
}

/**
 * [created_at ISO string, uuid]; anything else is 400 validation_failed, never ignored. Only
 * what encodeCursor would print for those two values is accepted (no padding, spacing or other
 * spelling of the same JSON), so nothing the database could refuse gets past this point.
 */
export function decodeCursor (cursor: string): [string, string] {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw validationFailed('/cursor', 'is not a cursor this API issued')
  }
  if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && typeof parsed[1] === 'string' &&
      isIssuedTimestamp(parsed[0]) && isLowercaseUuid(parsed[1])) {
    const key: [string, string] = [parsed[0], parsed[1]]
    if (encodeCursor(key) === cursor) return key
  }
  throw validationFailed('/cursor', 'is not a cursor this API issued')
}

/** Cuts a page fetched with limit + 1 rows and derives the next cursor from its last row. */
export function page<T> (rows: T[], limit: number, keyOf: (row: T) => readonly [string, string]): { data: T[], next_cursor: string | null } {
  if (rows.length <= limit) return { data: rows, next_cursor: null }
  const data = rows.slice(0, limit)
  const last = data[data.length - 1] as T
  return { data, next_cursor: encodeCursor(keyOf(last)) }
}
