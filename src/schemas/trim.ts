import type { Ajv } from 'ajv'

/**
 * Ajv keyword `x-trim`: trims a string in place before its other checks run, so " " fails
 * minLength 1 and "  Alice " is stored as "Alice". API.md: strings are trimmed.
 */
export function trimKeyword (ajv: Ajv): Ajv {
  return ajv.addKeyword({
    keyword: 'x-trim',
    type: 'string',
    schemaType: 'boolean',
    modifying: true,
    errors: false,
    before: 'minLength',
    compile: (enabled: boolean) => function trim (data: string, context?: { parentData?: unknown, parentDataProperty?: string | number }) {
      if (enabled && context?.parentData !== undefined && context.parentDataProperty !== undefined) {
        (context.parentData as Record<string | number, unknown>)[context.parentDataProperty] = data.trim()
      }
      return true
    }
  })
}
