/** SQLSTATE of a postgres.js error, if it is one. */
export function sqlState (error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

export const isUniqueViolation = (error: unknown): boolean => sqlState(error) === '23505'

/**
 * SQLSTATE class 22, data exception: PostgreSQL refused a value as data (out of range, bad
 * syntax for its type, division by zero...). Only a value from outside can be that wrong.
 */
export const isDataException = (error: unknown): boolean => /^22[0-9A-Z]{3}$/.test(sqlState(error) ?? '')

/**
 * PostgreSQL refuses to store a NUL character: in text 22021 (character_not_in_repertoire), as a
 * \u0000 escape in jsonb 22P05 (untranslatable_character). Only client input carries one there.
 */
const UNSTORABLE_CHARACTER = new Set(['22021', '22P05'])
export const isUnstorableText = (error: unknown): boolean => UNSTORABLE_CHARACTER.has(sqlState(error) ?? '')
