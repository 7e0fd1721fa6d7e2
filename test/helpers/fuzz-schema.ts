import fc from 'fast-check'
import { readFileSync } from 'node:fs'

/**
 * Schema-driven generation for the fuzz suite (test/fuzz.test.ts): values that satisfy a route's
 * JSON schema, values that break it at one known spot, cursors, and the problem codes of API.md.
 */

/** The JSON Schema keywords the route schemas use (TypeBox output). */
export interface Schema {
  type?: string | string[]
  properties?: Record<string, Schema>
  required?: string[]
  additionalProperties?: boolean | Schema
  items?: Schema
  anyOf?: Schema[]
  allOf?: Schema[]
  const?: unknown
  enum?: unknown[]
  minLength?: number
  maxLength?: number
  pattern?: string
  format?: string
  minimum?: number
  maximum?: number
  minItems?: number
  maxItems?: number
  minProperties?: number
  'x-trim'?: boolean
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

// ---- the codes API.md lists ------------------------------------------------------------------------

/**
 * `code → status` from API.md's "Codes used everywhere" paragraph, read from the spec itself so a
 * code the app invents (or a status it pairs wrongly) fails the property.
 */
export function apiProblemCodes (apiMd: URL): Map<string, number> {
  let text: string
  try {
    text = readFileSync(apiMd, 'utf8')
  } catch (error) {
    throw new Error(`the fuzz suite judges answers by API.md and cannot read ${apiMd.pathname}: put shared/ beside the repository or set SHARED`, { cause: error })
  }
  const start = text.indexOf('Codes used everywhere')
  const end = text.indexOf('Authentication is checked', start)
  if (start < 0 || end < 0) throw new Error(`${apiMd.pathname}: no "Codes used everywhere" paragraph`)
  const codes = new Map<string, number>()
  for (const [, code, status] of text.slice(start, end).matchAll(/`([a-z_]+)`\s+(\d{3})/g)) codes.set(code!, Number(status))
  return codes
}

// ---- valid values ---------------------------------------------------------------------------------

/**
 * Date-times ajv-formats (full mode) accepts that are still odd: year 0 (no such year in
 * PostgreSQL), a leap second (JavaScript's Date refuses it), the far future, lower-case
 * separators, a space instead of T, extreme offsets, nanoseconds.
 */
export const validOddDateTimes = [
  '0000-01-01T00:00:00Z', '0001-01-01T00:00:00Z', '1969-12-31T23:59:59Z', '2024-02-29T12:00:00Z', '2099-12-31T23:59:59.999999999Z',
  '9999-12-31T23:59:59Z', '2099-06-30T23:59:60Z', '2099-01-01t00:00:00z', '2099-01-01 00:00:00Z', '2099-01-01T00:00:00+14:00',
  '2099-01-01T00:00:00-23:59', '2099-01-01T00:00:00+0000', '2099-01-01T00:00:00.000000000000000001Z'
]

const oddGraphemes = ['é', '🎉', '👩‍👩‍👧‍👦', 'e\u0301', '\u200B', 'Ж', '字', 'a']

export interface ValueOptions {
  /** ids the generator draws on besides random ones (rows that exist) */
  knownIds: readonly string[]
  knownEmails: readonly string[]
}

const codePoints = (s: string) => [...s].length

export function stringArb (schema: Schema, options: ValueOptions): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0
  const max = schema.maxLength
  if (schema.format === 'uuid') {
    const id = fc.oneof(fc.uuid(), fc.constantFrom(...options.knownIds))
    return fc.oneof({ weight: 6, arbitrary: id }, { weight: 1, arbitrary: id.map(s => s.toUpperCase()) })
  }
  if (schema.format === 'date-time') {
    return fc.oneof(
      { weight: 4, arbitrary: fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map(d => d.toISOString()) },
      { weight: 2, arbitrary: fc.constantFrom(...validOddDateTimes) }
    )
  }
  if (schema.pattern !== undefined) {
    const matching = fc.stringMatching(new RegExp(schema.pattern), { size: 'small' })
      .filter(s => s.length >= min && s.length <= (max ?? Infinity))
    return schema.pattern.includes('@') ? fc.oneof(matching, fc.constantFrom(...options.knownEmails)) : matching
  }
  const plain = fc.string({ minLength: min, maxLength: Math.max(min, Math.min(max ?? 60, 60)), unit: 'grapheme' })
    .filter(s => codePoints(schema['x-trim'] === true ? s.trim() : s) >= min && codePoints(s) <= (max ?? Infinity))
  if (max === undefined) return plain
  // boundary lengths: exactly the minimum and the maximum, counted in code points as Ajv counts
  // them, in characters of 1 to 4 UTF-8 bytes (and 2 UTF-16 units for the emoji)
  const exactly = (n: number) => fc.constantFrom('a', 'é', '字', '🎉').map(c => c.repeat(n))
  const boundaries = [exactly(max)]
  if (min > 0) boundaries.push(exactly(min))
  if (schema['x-trim'] === true) boundaries.push(exactly(max).map(s => `  ${s}\t`))
  return fc.oneof({ weight: 5, arbitrary: plain }, { weight: 1, arbitrary: fc.oneof(...boundaries) },
    { weight: 1, arbitrary: fc.array(fc.constantFrom(...oddGraphemes), { minLength: Math.max(min, 1), maxLength: Math.min(max, 30) }).map(parts => parts.join('')).filter(s => codePoints(s) <= max && codePoints(s.trim()) >= min) })
}

function integerArb (schema: Schema): fc.Arbitrary<number> {
  const min = schema.minimum ?? -1_000_000
  const max = schema.maximum ?? 1_000_000
  // the bounds themselves are the values most likely to be mishandled (huge ones above all)
  return fc.oneof({ weight: 4, arbitrary: fc.integer({ min: Math.max(min, -1_000_000), max: Math.min(max, 1_000_000) }) },
    { weight: 1, arbitrary: fc.constantFrom(min, max, Math.min(max, Math.max(min, 0))) })
}

/** Values that satisfy the schema (as far as its keywords go). */
export function arbitraryOf (schema: Schema, options: ValueOptions): fc.Arbitrary<Json> {
  if (schema.const !== undefined) return fc.constant(schema.const as Json)
  if (schema.enum !== undefined) return fc.constantFrom(...(schema.enum as Json[]))
  if (schema.anyOf !== undefined) return fc.oneof(...schema.anyOf.map(s => arbitraryOf(s, options)))
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  switch (type) {
    case 'string': return stringArb(schema, options)
    case 'integer': return integerArb(schema)
    case 'number': return fc.double({ min: schema.minimum ?? -1e9, max: schema.maximum ?? 1e9, noNaN: true })
    case 'boolean': return fc.boolean()
    case 'null': return fc.constant(null)
    case 'array': return fc.array(arbitraryOf(schema.items ?? {}, options), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 5, 5) })
    case 'object': {
      const properties = schema.properties ?? {}
      const model = Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, arbitraryOf(value, options)]))
      const record = fc.record(model, { requiredKeys: schema.required ?? [] }) as fc.Arbitrary<Record<string, Json>>
      return (schema.minProperties ?? 0) > 0 ? record.filter(r => Object.keys(r).length >= (schema.minProperties ?? 0)) : record
    }
    default: return fc.jsonValue() as fc.Arbitrary<Json>
  }
}

// ---- values that break the schema -----------------------------------------------------------------

/** Where a value travels: JSON keeps its type; query strings and path segments are always text. */
export type Carrier = 'json' | 'text'

/**
 * One way to break a schema node. `lenient`: wrong only in its JSON type, and Ajv's type coercion
 * (the app runs with `coerceTypes: 'array'`) would turn it into a valid value; a strict reading of
 * API.md ("any body ... that breaks the route's schema") still refuses it.
 */
export interface Breakage { value: Json, why: string, lenient: boolean }

/** Date-times that cannot exist, in the RFC 3339 shape or near it. */
export const impossibleDateTimes = [
  '2024-13-01T00:00:00Z', '2024-00-10T00:00:00Z', '2024-02-30T00:00:00Z', '2023-02-29T00:00:00Z', '2024-04-31T12:00:00Z',
  '2024-01-32T00:00:00Z', '2024-01-00T00:00:00Z', '2024-01-01T24:00:01Z', '2024-01-01T25:00:00Z', '2024-01-01T23:60:00Z',
  '2024-01-01T23:59:61Z', '2024-06-30T12:59:60Z', '9999-99-99T99:99:99Z', '2024-01-01', '2024-01-01T00:00:00', 'T00:00:00Z',
  '2024-01-01T00:00:00+24:00', '+002024-01-01T00:00:00Z', '20240101T000000Z', 'now', 'tomorrow', '1700000000', ''
]
const notUuids = [
  'not-a-uuid', '00000000-0000-0000-0000-00000000000', '00000000-0000-0000-0000-0000000000000', 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz',
  '{00000000-0000-0000-0000-000000000000}', '00000000000000000000000000000000', '', '0'
]
const patternBreakers = ['', ' ', 'A', 'UPPER', 'a b', '@', 'a@', '@b', '-', '--', 'a--b', '-a', 'a-', 'Ж', 'a_b', 'a.b', 'a/b', '\u0000', 'x'.repeat(65)]
const enumBreakers = ['', 'nope', 'OWNER', 'Draft', 'superuser', 'owner ', 'null']

const trimmed = (schema: Schema, s: string) => schema['x-trim'] === true ? s.trim() : s

/** Breakages of a string node that no reading of the schema lets through. */
function stringBreakages (schema: Schema): Breakage[] {
  const out: Breakage[] = []
  const min = schema.minLength ?? 0
  if (min > 0) {
    out.push({ value: 'a'.repeat(min - 1), why: `${min - 1} characters, under minLength ${min}`, lenient: false })
    if (schema['x-trim'] === true) out.push({ value: ` ${'\t'.repeat(min)} `, why: 'only whitespace (empty once trimmed)', lenient: false })
  }
  if (schema.maxLength !== undefined) {
    out.push({ value: 'a'.repeat(schema.maxLength + 1), why: `${schema.maxLength + 1} characters, over maxLength ${schema.maxLength}`, lenient: false })
    out.push({ value: '🎉'.repeat(schema.maxLength + 1), why: `${schema.maxLength + 1} emoji, over maxLength ${schema.maxLength}`, lenient: false })
  }
  if (schema.pattern !== undefined) {
    const pattern = new RegExp(schema.pattern, 'u')
    for (const s of patternBreakers) if (!pattern.test(trimmed(schema, s))) out.push({ value: s, why: `does not match ${schema.pattern}`, lenient: false })
  }
  if (schema.format === 'uuid') for (const s of notUuids) out.push({ value: s, why: 'not a UUID', lenient: false })
  if (schema.format === 'date-time') for (const s of impossibleDateTimes) out.push({ value: s, why: 'an impossible date-time', lenient: false })
  return out
}

/** Is this text what Ajv, coercing, reads as an integer within the node's bounds? */
function integerAccepts (schema: Schema, text: string): boolean {
  if (text === '') return false
  const n = Number(text)
  return Number.isInteger(n) && n >= (schema.minimum ?? -Infinity) && n <= (schema.maximum ?? Infinity)
}

/** Whole-node replacements that break the schema, for a value carried as JSON or as text. */
export function breakagesOf (schema: Schema, carrier: Carrier): Breakage[] {
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  const literals = schema.anyOf?.every(s => s.const !== undefined) === true
    ? schema.anyOf.map(s => s.const)
    : schema.const !== undefined ? [schema.const] : schema.enum
  if (literals !== undefined) {
    const out: Breakage[] = enumBreakers.filter(s => !literals.includes(s)).map(s => ({ value: s, why: `not one of ${JSON.stringify(literals)}`, lenient: false }))
    if (carrier === 'json') out.push({ value: 42, why: 'a number for a string enum', lenient: false }, { value: {}, why: 'an object for an enum', lenient: false })
    return out
  }
  if (schema.anyOf !== undefined) return [] // a union of shapes: nothing is known to break every branch
  switch (type) {
    case 'string': {
      const out = stringBreakages(schema)
      if (carrier === 'json') {
        out.push({ value: { value: 'x' }, why: 'an object for a string', lenient: false }, { value: ['a', 'b'], why: 'two strings for one', lenient: false })
        // coercible: 42 → "42", true → "true", null → "", ["x"] → "x"; refused only if the coerced text is
        const coercible: Json[] = [42, true, null, ['x']]
        for (const value of coercible) {
          const text = Array.isArray(value) ? String(value[0]) : value === null ? '' : String(value)
          const refusedAnyway = stringBreakages(schema).some(b => b.value === text) || !stringArbAccepts(schema, text)
          out.push({ value, why: `${JSON.stringify(value)} for a string`, lenient: !refusedAnyway })
        }
      }
      return out
    }
    case 'integer':
    case 'number': {
      const texts = ['abc', '1.5', '1e400', 'Infinity', '-Infinity', 'NaN', '', '9'.repeat(400)]
      if (schema.minimum !== undefined) texts.push(String(schema.minimum - 1))
      if (schema.maximum !== undefined) texts.push(String(schema.maximum + 1), '1e21', String(2 ** 64))
      const out: Breakage[] = texts.filter(s => type === 'number' ? false : !integerAccepts(schema, s))
        .map(s => ({ value: carrier === 'json' && s !== '' && !Number.isNaN(Number(s)) && Number.isFinite(Number(s)) ? Number(s) : s, why: `${s || 'empty'} for an integer in [${schema.minimum ?? '-∞'}, ${schema.maximum ?? '∞'}]`, lenient: false }))
      if (carrier === 'json') {
        out.push({ value: { n: 1 }, why: 'an object for an integer', lenient: false }, { value: [1, 2], why: 'two numbers for one', lenient: false })
        const inRange = Math.min(schema.maximum ?? 1, Math.max(schema.minimum ?? 1, 1))
        out.push({ value: String(inRange), why: `"${inRange}", a string for an integer`, lenient: true })
        if (integerAccepts(schema, '1')) out.push({ value: true, why: 'true for an integer', lenient: true })
        if (integerAccepts(schema, '0')) out.push({ value: null, why: 'null for an integer', lenient: true })
      }
      return out
    }
    case 'boolean':
      return carrier === 'json'
        ? [
            { value: 'yes', why: '"yes" for a boolean', lenient: false }, { value: 2, why: '2 for a boolean', lenient: false },
            { value: {}, why: 'an object for a boolean', lenient: false }, { value: [], why: 'an empty array for a boolean', lenient: false },
            { value: 'true', why: '"true" for a boolean', lenient: true }, { value: 0, why: '0 for a boolean', lenient: true },
            { value: null, why: 'null for a boolean', lenient: true }
          ]
        : [{ value: 'yes', why: '"yes" for a boolean', lenient: false }, { value: '2', why: '"2" for a boolean', lenient: false }]
    case 'array':
      return carrier === 'json'
        ? [{ value: { 0: 'a' }, why: 'an object for an array', lenient: false }, { value: 42, why: 'a number for an array', lenient: (schema.items?.type ?? 'string') !== 'string' ? false : !stringBreakages(schema.items ?? {}).some(b => b.value === '42') && stringArbAccepts(schema.items ?? {}, '42') }]
        : []
    case 'object':
      return carrier === 'json'
        ? [{ value: 'x', why: 'a string for an object', lenient: false }, { value: [], why: 'an array for an object', lenient: false }, { value: 7, why: 'a number for an object', lenient: false }]
        : []
    default:
      return []
  }
}

/** Whether a plain string (no format) passes the node's length and pattern keywords. */
function stringArbAccepts (schema: Schema, text: string): boolean {
  if (schema.format !== undefined) return false
  const s = trimmed(schema, text)
  if (codePoints(s) < (schema.minLength ?? 0) || codePoints(s) > (schema.maxLength ?? Infinity)) return false
  return schema.pattern === undefined || new RegExp(schema.pattern, 'u').test(s)
}

/** A valid value with one spot broken, and where and how. */
export interface Broken { value: Json, where: string, why: string, lenient: boolean }

/**
 * Breaks `value` (valid for `schema`) at one spot chosen by `picks`: deep inside objects and arrays
 * of JSON bodies, at the top level of query strings and path parameters (their values are text).
 * Undefined when the node offers nothing known to break it.
 */
export function breakValue (schema: Schema, value: Json, picks: readonly number[], carrier: Carrier, where = ''): Broken | undefined {
  const pick = picks[0] ?? 0
  const rest = picks.slice(1)
  const isObject = typeof value === 'object' && value !== null && !Array.isArray(value)
  if (schema.properties !== undefined && isObject) {
    const properties = schema.properties
    const keys = Object.keys(properties)
    type Option = { kind: 'descend', key: string } | { kind: 'omit', key: string } | { kind: 'extra' } | { kind: 'whole' }
    const options: Option[] = keys.map((key): Option => ({ kind: 'descend', key }))
    // text carriers are query strings and path parameters: a left-out path parameter cannot be sent
    if (carrier === 'json') for (const key of schema.required ?? []) options.push({ kind: 'omit', key })
    if (schema.additionalProperties === false && carrier === 'json') options.push({ kind: 'extra' })
    if (where !== '' && carrier === 'json') options.push({ kind: 'whole' })
    const option = options[pick % options.length]!
    const object = value as Record<string, Json>
    switch (option.kind) {
      case 'omit': {
        const { [option.key]: _omitted, ...others } = object
        return { value: others, where: `${where}/${option.key}`, why: 'a required property left out', lenient: false }
      }
      case 'extra':
        return { value: { ...object, is_admin: true }, where: `${where}/is_admin`, why: 'a property the schema does not know', lenient: false }
      case 'whole':
        return pickBreakage(schema, rest, carrier, where)
      case 'descend': {
        const child = object[option.key]
        const childSchema = properties[option.key]!
        const broken = child === undefined || carrier === 'text'
          ? pickBreakage(childSchema, rest, carrier, `${where}/${option.key}`)
          : breakValue(childSchema, child, rest, carrier, `${where}/${option.key}`)
        if (broken === undefined) return carrier === 'json' ? pickBreakage(schema, rest, carrier, where) : undefined
        return { ...broken, value: { ...object, [option.key]: broken.value } }
      }
    }
  }
  if (schema.type === 'array' && Array.isArray(value) && carrier === 'json') {
    const items = schema.items ?? {}
    const choice = pick % 3
    if (choice === 0 && value.length > 0) {
      const index = (rest[0] ?? 0) % value.length
      const broken = breakValue(items, value[index]!, rest.slice(1), carrier, `${where}/${index}`)
      if (broken !== undefined) return { ...broken, value: value.map((item, i) => i === index ? broken.value : item) }
    }
    if (choice === 1 && schema.maxItems !== undefined && value.length > 0) {
      return { value: Array.from({ length: schema.maxItems + 1 }, () => value[0]!), where, why: `${schema.maxItems + 1} items, over maxItems ${schema.maxItems}`, lenient: false }
    }
    return pickBreakage(schema, rest, carrier, where)
  }
  if (schema.minProperties !== undefined && isObject && carrier === 'json' && pick % 4 === 0) {
    return { value: {}, where, why: `no property, under minProperties ${schema.minProperties}`, lenient: false }
  }
  return pickBreakage(schema, rest, carrier, where)
}

function pickBreakage (schema: Schema, picks: readonly number[], carrier: Carrier, where: string): Broken | undefined {
  const options = breakagesOf(schema, carrier)
  if (options.length === 0) return undefined
  const chosen = options[(picks[0] ?? 0) % options.length]!
  return { ...chosen, where: where === '' ? '/' : where }
}

// ---- cursors --------------------------------------------------------------------------------------

const ISSUED_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z$/
const ISSUED_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate()

/**
 * Could the API have issued this cursor? A base64url JSON `[created_at, id]` whose timestamp is
 * a real instant PostgreSQL can store (years 1 to 9999 here) and whose id is a lower-case UUID.
 * Decoded as Node decodes base64url (leniently), so a cursor the app may accept is never called
 * one it must refuse.
 */
export function plausibleCursor (cursor: string): boolean {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    return false
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[0] !== 'string' || typeof parsed[1] !== 'string') return false
  const m = ISSUED_TIMESTAMP.exec(parsed[0])
  if (m === null || !ISSUED_ID.test(parsed[1])) return false
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month) && hour <= 23 && minute <= 59 && second <= 59
}

/** The flag list's cursor: base64url of the last flag key (src/features/flags/service.ts), decoded as leniently. */
export const plausibleKeyCursor = (cursor: string) => /^[a-z0-9-]{1,64}$/.test(Buffer.from(cursor, 'base64url').toString('utf8'))

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const two = fc.integer({ min: 0, max: 99 }).map(n => String(n).padStart(2, '0'))

/**
 * Cursors: in the issued shape but with impossible timestamps (month 13, Feb 30, hour 25, year 0),
 * any timestamp-looking digits, the base64url of arbitrary JSON, raw bytes, standard base64,
 * padding, and real-looking ones.
 */
export function cursorArb (ids: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const digitsTimestamp = fc.tuple(fc.integer({ min: 0, max: 9999 }).map(n => String(n).padStart(4, '0')), two, two, two, two, two,
    fc.option(fc.integer({ min: 0, max: 999_999_999 }).map(n => `.${n}`), { nil: '' }))
    .map(([y, mo, d, h, mi, s, frac]) => `${y}-${mo}-${d}T${h}:${mi}:${s}${frac}Z`)
  const timestamp = fc.oneof(
    fc.constantFrom(...impossibleDateTimes.filter(s => s.endsWith('Z')), '0000-01-01T00:00:00Z', '0000-00-00T00:00:00Z', '10000-01-01T00:00:00Z'),
    digitsTimestamp,
    fc.date({ min: new Date('1970-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map(d => d.toISOString())
  )
  const lowerIds = ids.map(id => id.toLowerCase())
  return fc.oneof(
    { weight: 6, arbitrary: fc.tuple(timestamp, lowerIds).map(b64) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(b64) },
    {
      weight: 2,
      arbitrary: fc.oneof(
        fc.tuple(timestamp, fc.oneof(lowerIds, fc.jsonValue({ maxDepth: 1 }))).map(([t, id]) => b64([t, id, 'extra'])),
        fc.tuple(fc.oneof(timestamp, fc.jsonValue({ maxDepth: 1 })), fc.jsonValue({ maxDepth: 1 })).map(b64),
        fc.tuple(timestamp, lowerIds).map(([t, id]) => b64({ 0: t, 1: id })),
        fc.tuple(timestamp, lowerIds).map(([t, id]) => b64([Date.parse(t), id])),
        fc.tuple(timestamp, lowerIds).map(([t, id]) => b64([t, id.toUpperCase()]))
      )
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map(bytes => Buffer.from(bytes).toString('base64url')) },
    // the flag list pages by key: base64url of a bare string
    { weight: 1, arbitrary: fc.oneof(fc.stringMatching(/^[a-z0-9-]{1,64}$/), fc.string({ maxLength: 70 })).map(s => Buffer.from(s).toString('base64url')) },
    { weight: 1, arbitrary: fc.tuple(timestamp, lowerIds).map(pair => Buffer.from(JSON.stringify(pair)).toString('base64')) },
    { weight: 1, arbitrary: fc.tuple(timestamp, lowerIds).map(pair => `${b64(pair)}==`) }
  )
}

// ---- tenant keys ----------------------------------------------------------------------------------

/** A deterministic pseudo-random header-safe string (latin-1, no control characters) of `length`. */
export function headerNoise (seed: number, length: number): string {
  let state = seed >>> 0 || 1
  let out = ''
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0
    const c = 0x20 + (state >>> 16) % 0xdf // 0x20..0xfe
    out += String.fromCharCode(c === 0x7f ? 0x41 : c)
  }
  return out
}

/**
 * Could this X-Tenant (trimmed and lower-cased, as the app reads it) be a slug or an id? Anything
 * else must be refused. Loose on purpose: where the line falls between these and API.md's exact
 * syntax (TENANT_KEY_IS_VALID) is the app's choice, 400 or 404.
 */
export const TENANT_KEY_LOOKS_VALID = /^[a-z0-9-]{1,64}$/
/** API.md's slug (3..40 characters) or a UUID: naming no tenant, such a key is 404 tenant_not_found */
export const TENANT_KEY_IS_VALID = /^(?:(?=.{3,40}$)[a-z0-9](-?[a-z0-9])*|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/
