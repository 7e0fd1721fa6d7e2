import { AjvCompiler } from '@fastify/ajv-compiler'

type BuildCompiler = ReturnType<typeof AjvCompiler>
/** the JSON Schema (not JTD) options: the `ajv` option of src/app.ts */
type CompilerOptions = Extract<NonNullable<Parameters<BuildCompiler>[1]>, { mode?: never }>

interface RouteSchema { schema: unknown, httpPart?: string, method: string, url: string }
type Compile = (route: RouteSchema) => unknown

const fromPool = AjvCompiler()

/**
 * Fastify's Ajv validators with type coercion for the parts that arrive as text (querystring,
 * params, headers: `?limit=5` is the number 5) and none for JSON bodies. Fastify's default
 * coerces bodies too, so `{"id": 1}` passed a string schema as "1" and `{"created": "17"}` an
 * integer one; a JSON value of the wrong type is 400 `validation_failed` instead. Same plugins
 * and options otherwise (x-trim, defaults).
 *
 * With a custom factory Fastify no longer lowercases header schemas for us: their property
 * names must be lowercase already (Node hands over lowercase header names), checked here.
 */
export const validatorFactory: BuildCompiler = (externalSchemas, options) => {
  const ajvOptions = (options ?? {}) as CompilerOptions
  // @fastify/ajv-compiler's types describe the compile call as (schema); it takes the route's definition
  const coercing = fromPool(externalSchemas, ajvOptions) as unknown as Compile
  const strict = fromPool(externalSchemas, {
    ...ajvOptions,
    customOptions: { ...ajvOptions.customOptions, coerceTypes: false }
  }) as unknown as Compile
  const compile: Compile = route => {
    if (route.httpPart === 'headers') assertLowercaseHeaders(route)
    return route.httpPart === 'body' ? strict(route) : coercing(route)
  }
  return compile as unknown as ReturnType<BuildCompiler>
}

function assertLowercaseHeaders (route: RouteSchema): void {
  const properties = (route.schema as { properties?: Record<string, unknown> } | null)?.properties ?? {}
  const named = Object.keys(properties).filter(name => name !== name.toLowerCase())
  if (named.length > 0) throw new Error(`${route.method} ${route.url}: header schema names must be lowercase (${named.join(', ')})`)
}
