import { validationFailed } from './errors.ts'

/** An opaque keyset cursor: the sort key of the last row, base64url JSON. */
export function encodeCursor (key: readonly [string, string]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url')
}

const timestampPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** [created_at ISO string, uuid]; anything else is 400 validation_failed, never ignored. */
export function decodeCursor (cursor: string): [string, string] {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw validationFailed('/cursor', 'is not a cursor this API issued')
  }
  if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && typeof parsed[1] === 'string' &&
      timestampPattern.test(parsed[0]) && uuidPattern.test(parsed[1])) {
    return [parsed[0], parsed[1]]
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
