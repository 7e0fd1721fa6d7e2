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
