import t from 'tap'
import fc from 'fast-check'
import { createHmac, randomUUID } from 'node:crypto'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { createSql } from '../src/db/client.ts'
import { splitList } from '../src/config.ts'
import type { RouteEntry } from '../src/app.ts'
import { buildTestApp } from './helpers/app.ts'
import { addMember, bearer, createTenant, relaxedAuthLimits } from './helpers/tenants.ts'

/**
 * Hostile input, property-based: for every route of the app, requests generated from the route's
 * own schemas, then mutated (wrong types, huge strings, deep nesting, unicode edge cases,
 * duplicate and prototype-polluting keys, invalid UTF-8, NUL bytes, SQL-looking strings, path
 * parameters of every shape, huge query strings, wrong content types, bad credentials). Whatever
 * arrives, the answer is never a 5xx, every error is problem+json with a code, the process keeps
 * running, and tenant B, whose members send nothing, is left exactly as it was.
 *
 * FUZZ_SEED=<integer> replays a run; FUZZ_SEED=random explores a new one; FUZZ_RUNS sets the count.
 */
const ORIGIN = 'https://app.example.test'
const { app, db, logs, config } = await buildTestApp(t, {
  env: {
    ...relaxedAuthLimits,
    CORS_ORIGINS: ORIGIN,
    // the property is about the app's answers; a CI machine's hiccup must not shed load as 503
    MAX_EVENT_LOOP_DELAY_MS: '0'
  }
})
const owner = createSql(db.ownerUrl, { max: 2 })
t.teardown(() => owner.end({ timeout: 5 }))

const seed = process.env.FUZZ_SEED === 'random' ? Date.now() % 2 ** 31 : Number(process.env.FUZZ_SEED ?? 20_251_121)
const numRuns = Number(process.env.FUZZ_RUNS ?? 3_000)

// ---- the world: tenant A (the caller's), tenant B (the bystander) --------------------------------

const a = await createTenant(app)
const b = await createTenant(app)
const staff = await addMember(app, a, 'editor', 'Staff')
await owner`update users set is_staff = true where id = ${staff.id}`
await app.invalidation.publish('user', staff.id)
const refreshTokenOfA = (await app.inject({
  method: 'POST', url: '/v1/auth/login', payload: { email: a.viewer.email, password: 'correct horse battery staple' }
})).json().refresh_token as string

async function createArticle (token: string, title: string): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/v1/articles', headers: bearer(token), payload: { title, body: `${title} body`, tags: ['fuzz'] } })
  if (response.statusCode !== 201) throw new Error(`article: ${response.statusCode} ${response.body}`)
  return response.json().article.id as string
}
const articlesOfA = [await createArticle(a.editor.token, 'A one'), await createArticle(a.owner.token, 'A two')]
const articlesOfB = [await createArticle(b.editor.token, 'B one'), await createArticle(b.owner.token, 'B two')]
await app.inject({ method: 'POST', url: `/v1/articles/${articlesOfB[1]!}/publish`, headers: bearer(b.owner.token) })

const membersOfA = [a.owner, a.admin, a.editor, a.viewer, staff]
const membersOfB = [b.owner, b.admin, b.editor, b.viewer]
// ids the generator draws on besides random ones; not those of the callers themselves, or a run
// that demotes or removes them early would spend the rest knocking on a door that no longer opens
const knownIds = [a.id, b.id, ...articlesOfA, ...articlesOfB, a.admin.id, a.editor.id, ...membersOfB.map(m => m.id)]
const knownEmails = [...membersOfA, ...membersOfB].map(m => m.email)

// ---- tenant B, as its owner role sees it ----------------------------------------------------------

async function snapshotOfB (): Promise<Record<string, string>> {
  const tables = await owner<Array<{ table_name: string }>>`
    select table_name from information_schema.columns
    where table_schema = 'public' and column_name = 'tenant_id' order by table_name`
  const snapshot: Record<string, string> = {}
  for (const { table_name: table } of tables) {
    const [row] = await owner.unsafe<Array<{ rows: number, digest: string | null }>>(
      `select count(*)::int as rows, md5(string_agg(t::text, '|' order by t::text)) as digest from "${table}" t where tenant_id = $1`, [b.id])
    snapshot[table] = `${row!.rows} rows ${row!.digest ?? '-'}`
  }
  const [tenant] = await owner<Array<{ row: string }>>`select t::text as row from tenants t where id = ${b.id}`
  snapshot.tenants = tenant!.row
  const users = await owner<Array<{ row: string }>>`
    select concat_ws('|', id, email, name, password_hash, is_staff, deleted_at) as row from users
    where id in ${owner(membersOfB.map(m => m.id))} order by id`
  snapshot.users = users.map(u => u.row).join('\n')
  return snapshot
}

const viewOfB = async () => Promise.all(['/v1/articles?limit=100', '/v1/members?limit=100', '/v1/tenant', '/v1/audit-log?limit=100']
  .map(async url => (await app.inject({ method: 'GET', url, headers: bearer(b.owner.token) })).body))

const bBefore = await viewOfB()
const bRowsBefore = await snapshotOfB()
const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort()

// ---- requests from schemas ------------------------------------------------------------------------

interface Schema {
  type?: string | string[]
  properties?: Record<string, Schema>
  required?: string[]
  items?: Schema
  anyOf?: Schema[]
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
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

const uuidArb = fc.oneof(fc.uuid(), fc.constantFrom(...knownIds))

function stringArb (schema: Schema): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0
  const max = Math.min(schema.maxLength ?? 60, 60)
  if (schema.format === 'uuid') return uuidArb
  if (schema.format === 'date-time') {
    return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map(d => d.toISOString())
  }
  if (schema.pattern !== undefined) {
    const matching = fc.stringMatching(new RegExp(schema.pattern), { size: 'small' })
      .filter(s => s.length >= min && s.length <= (schema.maxLength ?? Infinity))
    return schema.pattern.includes('@') ? fc.oneof(matching, fc.constantFrom(...knownEmails)) : matching
  }
  return fc.string({ minLength: min, maxLength: Math.max(min, max), unit: 'grapheme' })
}

/** Values that satisfy the schema (as far as its keywords go). */
function arbitraryOf (schema: Schema): fc.Arbitrary<Json> {
  if (schema.const !== undefined) return fc.constant(schema.const as Json)
  if (schema.enum !== undefined) return fc.constantFrom(...(schema.enum as Json[]))
  if (schema.anyOf !== undefined) return fc.oneof(...schema.anyOf.map(arbitraryOf))
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  switch (type) {
    case 'string': return stringArb(schema)
    case 'integer': return fc.integer({ min: schema.minimum ?? -1_000_000, max: schema.maximum ?? 1_000_000 })
    case 'number': return fc.double({ min: schema.minimum ?? -1e9, max: schema.maximum ?? 1e9, noNaN: true })
    case 'boolean': return fc.boolean()
    case 'null': return fc.constant(null)
    case 'array': return fc.array(arbitraryOf(schema.items ?? {}), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 5, 5) })
    case 'object': {
      const properties = schema.properties ?? {}
      const model = Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, arbitraryOf(value)]))
      const record = fc.record(model, { requiredKeys: schema.required ?? [] }) as fc.Arbitrary<Record<string, Json>>
      return (schema.minProperties ?? 0) > 0 ? record.filter(r => Object.keys(r).length >= (schema.minProperties ?? 0)) : record
    }
    default: return fc.jsonValue() as fc.Arbitrary<Json>
  }
}

// ---- hostile values -------------------------------------------------------------------------------

const HUGE = 'é'.repeat(50_000) // 100k bytes of UTF-8, 50k characters
const hugeAscii = 'A'.repeat(100_000)
const nested = (depth: number, kind: 'array' | 'object'): Json => {
  let value: Json = 'bottom'
  for (let i = 0; i < depth; i++) value = kind === 'array' ? [value] : { a: value }
  return value
}
const unicodeEdges = [
  '\uD800', '\uDFFF', 'a\uDC00b\uD83D', '\u202Eevil\u202C', '\u200B', '\u200B\u200C\u200D\uFEFF', '\uFEFFbom',
  '👩‍👩‍👧‍👦', '🏳️‍🌈🇺🇦', 'e\u0301\u0301\u0301', 'Z̷̢̛̛a̶̡l̷̨g̸o̵', '\uFFFF\uFFFE', '\u2028\u2029', '\u0085', 'İıſß',
  'مرحبا بالعالم', 'שָׁלוֹם', '𝕳𝖊𝖑𝖑𝖔', '\u00A0 \u3000', 'ＡＤＭＩＮ'
]
const nulStrings = ['\u0000', 'a\u0000b', 'abc\u0000'.repeat(5), '\u0000\u0000\u0000']
const sqlStrings = [
  "' OR '1'='1", "'; DROP TABLE articles; --", '" OR ""="', '1; select pg_sleep(5)', '$1', '\\', "%' --",
  "x' UNION SELECT password_hash FROM users --", "'::uuid", "00000000-0000-0000-0000-000000000000' OR 1=1 --",
  '$$; select 1; $$', "'); set role postgres; --", '%_%', '*/ select /*'
]
const wrongTypes: Json[] = [
  42, -1, 0, 1.5, 1e308, -1e308, 2 ** 53, true, false, null, [], {}, ['a'], [1], { a: 1 }, '', ' ', '0', '1', 'true', 'null',
  // strings Ajv coerces to numbers it does not range-check
  'Infinity', '-Infinity', '1e400', '-1e400', 'NaN', '0x10', '1e2'
]

/** URLs cannot carry a lone surrogate (encodeURIComponent throws): those become U+FFFD on the way */
const wellFormed = (s: string) => s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
const encoded = (s: string) => encodeURIComponent(wellFormed(s))

const hostileString = fc.oneof(
  fc.constantFrom(...unicodeEdges), fc.constantFrom(...nulStrings), fc.constantFrom(...sqlStrings),
  fc.constantFrom(HUGE, hugeAscii), fc.string({ unit: 'binary', maxLength: 40 })
)
const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  hostileString, fc.constantFrom(...wrongTypes),
  fc.constantFrom(nested(1000, 'array'), nested(1000, 'object')),
  fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>
)

const pathShapes = [
  '', '.', '..', '%2e%2e', '%2F', '..%2F..%2Fetc%2Fpasswd', '%00', 'a%00b', '%', '%zz', '%E0%A4%A', '%ED%A0%80',
  '%F0%9F%98%80', 'null', 'undefined', '0', '-1', '1e3', '__proto__', 'constructor', 'prototype', '%20',
  encodeURIComponent("' OR 1=1 --"), encodeURIComponent('\u202E'), encodeURIComponent('👩‍👩‍👧‍👦'),
  '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'x'.repeat(100), 'x'.repeat(101),
  'x'.repeat(5_000), 'a;b', 'a,b', '*', '~', '$', '(select)', 'a+b', 'A'
]
const pathParamArb = fc.oneof(
  uuidArb.map(encodeURIComponent),
  uuidArb.map(id => id.toUpperCase()),
  uuidArb.map(id => `{${id}}`),
  uuidArb.map(id => `urn%3Auuid%3A${id}`),
  uuidArb.map(id => id.replaceAll('-', '')),
  uuidArb.map(id => `${id}x`),
  fc.constantFrom(...pathShapes),
  hostileString.map(encoded)
)

const tenThousandParams = Array.from({ length: 10_000 }, (_, i) => `p${i}=${i}`).join('&')
const queryShapes = [
  tenThousandParams, Array.from({ length: 10_000 }, () => 'limit=1').join('&'), `cursor=${'c'.repeat(100_000)}`,
  'limit=%', 'limit=%zz', 'a=%E0%A4%A', '&&&&==&=', '=', 'limit', 'limit[]=1', 'limit[0]=1&limit[1]=2', '__proto__=1&constructor=2',
  '__proto__[admin]=true', 'limit=1e2', 'limit=0x10', 'limit=-0', 'limit=Infinity', 'limit=NaN', 'limit=%00', 'cursor=%00',
  'status=draft&status=published', 'limit=1&limit=2'
]

const contentTypes = [
  'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz', 'application/xml',
  'application/json; charset=utf-16', 'application/json; charset=latin1', 'APPLICATION/JSON', 'application/vnd.api+json',
  'application/json, text/html', 'application/jsonx', '*/*', 'application/problem+json', ';;;', 'application/json; boundary=x'
]

// ---- one request ----------------------------------------------------------------------------------

type Caller = 'owner' | 'viewer' | 'staff' | 'none' | 'garbage' | 'b-token' | 'refresh-as-bearer' | 'huge'
const callers: Array<{ weight: number, arbitrary: fc.Arbitrary<Caller> }> = [
  { weight: 10, arbitrary: fc.constant('owner') },
  { weight: 2, arbitrary: fc.constant('viewer') },
  { weight: 2, arbitrary: fc.constant('staff') },
  { weight: 1, arbitrary: fc.constantFrom<Caller>('none', 'garbage', 'b-token', 'refresh-as-bearer', 'huge') }
]
const authorization: Record<Caller, string | undefined> = {
  owner: `Bearer ${a.owner.token}`,
  viewer: `Bearer ${a.viewer.token}`,
  staff: `Bearer ${staff.token}`,
  none: undefined,
  garbage: 'Bearer a.b.c',
  'b-token': `Bearer ${b.owner.token}`, // always sent with X-Tenant: A (see toRequest)
  'refresh-as-bearer': `Bearer ${refreshTokenOfA}`,
  huge: `Bearer ${'x'.repeat(8_000)}`
}
const tenantHeader = fc.oneof(
  { weight: 8, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.constantFrom(a.slug, a.id, a.slug.toUpperCase(), ` ${a.slug} `) },
  { weight: 1, arbitrary: fc.constantFrom(b.slug, b.id) },
  { weight: 1, arbitrary: fc.oneof(fc.constantFrom(...sqlStrings, 'x'.repeat(8_000), '', ' '), fc.uuid(), fc.string({ unit: 'grapheme-ascii', maxLength: 40 })) }
)

type Mutation =
  | { kind: 'none' }
  | { kind: 'value', where: number, value: Json }
  | { kind: 'extra-field', key: string, value: Json }
  | { kind: 'whole-body', body: Json }
  | { kind: 'raw-body', text: string }
  | { kind: 'duplicate-keys', where: number, value: Json, first: boolean }
  | { kind: 'proto-keys', variant: number }
  | { kind: 'invalid-utf8', where: number, bytes: number[] }
  | { kind: 'path', where: number, raw: string }
  | { kind: 'query', raw: string }
  | { kind: 'content-type', type: string, form: boolean }
  | { kind: 'unicode-everywhere', offset: number }

const utf8Breakers = [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xc0, 0xaf], [0x80, 0x80, 0x80], [0xf0, 0x9f, 0x98]]
const rawBodies = ['{', '}', 'null', '[]', '"x"', '1e999', 'true', '', ' ', '{"a":1}{"a":2}', '\u0000', '{"a":"\\ud800"}', '{"a":"\\u0000"}', '\uFEFF{}', '{"a":1,}', "{'a':1}", 'NaN']

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Mutation>({ kind: 'none' }) },
  { weight: 8, arbitrary: fc.record({ where: fc.nat(), value: hostileValue }).map((m): Mutation => ({ kind: 'value', ...m })) },
  { weight: 1, arbitrary: fc.record({ key: fc.constantFrom('is_staff', 'tenant_id', 'id', 'role', 'x'), value: hostileValue }).map((m): Mutation => ({ kind: 'extra-field', ...m })) },
  { weight: 1, arbitrary: hostileValue.map((body): Mutation => ({ kind: 'whole-body', body })) },
  { weight: 1, arbitrary: fc.constantFrom(...rawBodies).map((text): Mutation => ({ kind: 'raw-body', text })) },
  { weight: 2, arbitrary: fc.record({ where: fc.nat(), value: hostileValue, first: fc.boolean() }).map((m): Mutation => ({ kind: 'duplicate-keys', ...m })) },
  { weight: 2, arbitrary: fc.nat({ max: 5 }).map((variant): Mutation => ({ kind: 'proto-keys', variant })) },
  { weight: 2, arbitrary: fc.record({ where: fc.nat(), bytes: fc.constantFrom(...utf8Breakers) }).map((m): Mutation => ({ kind: 'invalid-utf8', ...m })) },
  { weight: 4, arbitrary: fc.record({ where: fc.nat(), raw: pathParamArb }).map((m): Mutation => ({ kind: 'path', ...m })) },
  {
    weight: 2,
    arbitrary: fc.oneof(fc.constantFrom(...queryShapes), hostileString.map(s => `limit=${encoded(s)}&cursor=${encoded(s)}`))
      .map((raw): Mutation => ({ kind: 'query', raw }))
  },
  { weight: 2, arbitrary: fc.record({ type: fc.constantFrom(...contentTypes), form: fc.boolean() }).map((m): Mutation => ({ kind: 'content-type', ...m })) },
  { weight: 2, arbitrary: fc.nat().map((offset): Mutation => ({ kind: 'unicode-everywhere', offset })) }
)

/** The value with every string in it (keys of objects too) replaced by the next unicode edge case. */
function everyString (value: Json, next: () => string): Json {
  if (typeof value === 'string') return next()
  if (Array.isArray(value)) return value.map(item => everyString(item, next))
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, everyString(item, next)]))
  }
  return value
}

interface Generated {
  params: Record<string, Json>
  query: Record<string, Json>
  body: Json | undefined
  caller: Caller
  tenant: string | undefined
  mutation: Mutation
  /** for the preflight route: the path asked about and the origin asking */
  preflight: { path: string, origin: string, method: string | undefined }
}

const schemaOf = (route: RouteEntry, part: 'params' | 'querystring' | 'body'): Schema | undefined =>
  route.schema?.[part] as Schema | undefined

const routeArb = (route: RouteEntry): fc.Arbitrary<Generated> => {
  const params = schemaOf(route, 'params')
  const query = schemaOf(route, 'querystring')
  const body = schemaOf(route, 'body')
  return fc.record({
    params: (params ? arbitraryOf(params) : fc.constant({})) as fc.Arbitrary<Record<string, Json>>,
    query: (query ? arbitraryOf(query) : fc.constant({})) as fc.Arbitrary<Record<string, Json>>,
    body: body ? arbitraryOf(body) : fc.option(fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>, { nil: undefined, freq: 4 }),
    caller: fc.oneof(...callers),
    tenant: tenantHeader,
    mutation: mutationArb,
    preflight: fc.record({
      path: fc.constantFrom('/v1/articles', `/v1/articles/${articlesOfA[0]!}`, '/v1/me', '/nowhere', '/docs'),
      origin: fc.constantFrom(ORIGIN, 'https://evil.example.test', 'null', `${ORIGIN}.evil.test`),
      method: fc.option(fc.constantFrom('GET', 'POST', 'PATCH', 'DELETE', 'TRACE'), { nil: undefined })
    })
  })
}

/** `{"k":v,...}` from keys and JSON texts: JSON.stringify cannot write a key twice or a __proto__ key. */
const rawObject = (entries: Array<[string, string]>) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`
const asJson = (entries: Array<[string, Json]>): Array<[string, string]> => entries.map(([k, v]) => [k, JSON.stringify(v)])

/** Prototype-pollution attempts around the body's own fields. */
const protoBodies = (base: Record<string, Json>): string[] => {
  const entries = asJson(Object.entries(base))
  return [
    rawObject([['__proto__', '{"is_staff":true,"polluted":"yes"}'], ...entries]),
    rawObject([...entries, ['constructor', '{"prototype":{"polluted":"yes"}}']]),
    rawObject([...entries, ['prototype', '{"polluted":"yes"}']]),
    rawObject([...entries, ['__proto__', 'null']]),
    rawObject([['nested', '{"__proto__":{"polluted":"yes"}}'], ...entries]),
    rawObject([...entries, ['__proto__', '[]']])
  ]
}

function toRequest (route: RouteEntry, generated: Generated): InjectOptions {
  const { mutation } = generated
  const headers: Record<string, string> = {}
  // B's own token is used only as a foreign credential: against tenant A, on tenant routes. Staff
  // may name B in a flag (audited in B's log, rightly): the platform's staff are not the attacker
  const namesB = JSON.stringify(generated.body ?? null).includes(b.id)
  const caller = (generated.caller === 'b-token' && route.config.tenant !== true) || (generated.caller === 'staff' && namesB) ? 'owner' : generated.caller
  const auth = authorization[caller]
  if (auth !== undefined) headers.authorization = auth
  const tenant = caller === 'b-token' ? a.slug : generated.tenant
  if (tenant !== undefined) headers['x-tenant'] = tenant

  if (route.url === '*') {
    headers.origin = generated.preflight.origin
    if (generated.preflight.method !== undefined) headers['access-control-request-method'] = generated.preflight.method
    return { method: 'OPTIONS', url: generated.preflight.path, headers }
  }

  const params = { ...generated.params }
  const paramNames = Object.keys(params)
  const rawParams: Record<string, string> = Object.fromEntries(paramNames.map(name => [name, encodeURIComponent(String(params[name]))]))
  if (mutation.kind === 'path' && paramNames.length > 0) rawParams[paramNames[mutation.where % paramNames.length]!] = mutation.raw
  const path = route.url.replace(/:(\w+)/g, (_, name: string) => rawParams[name] ?? 'x')

  const query: Record<string, Json> = { ...generated.query }
  let body: Json | undefined = generated.body
  const bodyObject = typeof body === 'object' && body !== null && !Array.isArray(body) ? { ...body } : undefined
  const bodyKeys = bodyObject ? Object.keys(bodyObject) : []
  const queryKeys = Object.keys(query)
  let payload: string | Buffer | undefined
  let contentType = 'application/json'
  let extraSearch = ''

  switch (mutation.kind) {
    case 'value': {
      // a hostile value in a body field, or else a query parameter
      if (bodyObject && bodyKeys.length > 0) {
        bodyObject[bodyKeys[mutation.where % bodyKeys.length]!] = mutation.value
        body = bodyObject
      } else {
        const key = queryKeys[mutation.where % Math.max(queryKeys.length, 1)] ?? 'limit'
        query[key] = typeof mutation.value === 'string' ? wellFormed(mutation.value) : JSON.stringify(mutation.value)
      }
      break
    }
    case 'extra-field':
      body = { ...(bodyObject ?? {}), [mutation.key]: mutation.value }
      break
    case 'whole-body':
      body = mutation.body
      break
    case 'raw-body':
      payload = mutation.text
      break
    case 'duplicate-keys': {
      const entries = Object.entries(bodyObject ?? { title: 'x' })
      const [key, value] = entries[mutation.where % entries.length] ?? ['title', 'x']
      const twice: Array<[string, Json]> = mutation.first ? [[key, mutation.value], [key, value]] : [[key, value], [key, mutation.value]]
      payload = rawObject(asJson([...entries.filter(([k]) => k !== key), ...twice]))
      break
    }
    case 'proto-keys':
      payload = protoBodies(bodyObject ?? {})[mutation.variant]!
      extraSearch = '__proto__=x&constructor=y&prototype=z'
      break
    case 'invalid-utf8': {
      const target = bodyKeys.find((_, i) => i === mutation.where % Math.max(bodyKeys.length, 1)) ?? 'title'
      const marker = `@@${randomUUID()}@@`
      const [before, after] = JSON.stringify({ ...(bodyObject ?? {}), [target]: marker }).split(marker) as [string, string]
      payload = Buffer.concat([Buffer.from(before), Buffer.from(mutation.bytes), Buffer.from(after)])
      break
    }
    case 'unicode-everywhere': {
      let i = mutation.offset
      const next = () => unicodeEdges[i++ % unicodeEdges.length]!
      if (body !== undefined) body = everyString(body, next)
      for (const key of queryKeys) if (typeof query[key] === 'string') query[key] = wellFormed(next())
      break
    }
    case 'content-type':
      contentType = mutation.type
      payload = mutation.form
        ? new URLSearchParams(Object.entries(bodyObject ?? { a: '1' }).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)])).toString()
        : JSON.stringify(body ?? {})
      break
    default:
      break
  }

  let search = Object.entries(query)
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map(item => `${encodeURIComponent(k)}=${encodeURIComponent(String(item))}`))
    .join('&')
  if (mutation.kind === 'query') search = mutation.raw
  if (extraSearch !== '') search = search === '' ? extraSearch : `${search}&${extraSearch}`
  const url = search === '' ? path : `${path}?${search}`

  if (payload === undefined && body !== undefined) payload = JSON.stringify(body)
  if (payload !== undefined) headers['content-type'] = contentType
  return { method: route.method as InjectOptions['method'], url, headers, ...(payload === undefined ? {} : { payload }) }
}

/** Routes that authenticate by a body signature get a valid one, so their requests reach the schema and beyond. */
const webhookSecret = splitList(config.PAYMENTS_WEBHOOK_SECRETS)[0]!
function signed (request: InjectOptions, valid: boolean): InjectOptions {
  const timestamp = Math.floor(Date.now() / 1000) - (valid ? 0 : 3_600)
  const body = request.payload === undefined ? Buffer.alloc(0) : Buffer.from(request.payload as string | Buffer)
  const digest = createHmac('sha256', webhookSecret).update(`${timestamp}.`).update(body).digest('hex')
  return { ...request, headers: { ...(request.headers as Record<string, string>), 'payments-signature': `t=${timestamp},v1=${digest}` } }
}
const signedBy = (route: RouteEntry) => (route.schema?.headers as Schema | undefined)?.properties?.['payments-signature'] !== undefined

// ---- the run --------------------------------------------------------------------------------------

const isDocsAsset = (url: string) => url.startsWith('/docs/static')
const skippedHead = app.routeTable.filter(r => r.method === 'HEAD')
const skippedAssets = app.routeTable.filter(r => r.method !== 'HEAD' && isDocsAsset(r.url))
const routes = app.routeTable.filter(r => r.method !== 'HEAD' && !isDocsAsset(r.url))

const statuses = new Map<number, number>()
const byRoute = new Map<string, number>()
let sent = 0
let serverErrors = 0

const shorten = (value: unknown) => {
  const text = typeof value === 'string' ? value : Buffer.isBuffer(value) ? `<${value.length} bytes> ${value.toString('utf8')}` : JSON.stringify(value)
  return text === undefined ? 'undefined' : text.length > 300 ? `${text.slice(0, 300)}…(${text.length} chars)` : text
}

function problemIn (request: InjectOptions, response: LightMyRequestResponse): string | undefined {
  const describe = () => `${String(request.method)} ${shorten(request.url)} headers=${shorten(request.headers)} payload=${shorten(request.payload)} → ${response.statusCode} ${shorten(response.body)}`
  if (response.statusCode >= 500) return `a ${response.statusCode}: ${describe()}`
  if (response.statusCode < 400) return undefined
  if (!/^application\/problem\+json/.test(String(response.headers['content-type']))) return `an error that is not problem+json: ${describe()}`
  let problem: { code?: unknown, status?: unknown }
  try {
    problem = response.json()
  } catch {
    return `a problem body that is not JSON: ${describe()}`
  }
  if (typeof problem.code !== 'string' || problem.status !== response.statusCode) return `a problem without code or with the wrong status: ${describe()}`
  return undefined
}

// first, while tenant A is as it was made: the fuzzer may change its members
t.test('the inputs the fuzzer once broke it with are refused cleanly, whatever the seed', async tt => {
  const owner = bearer(a.owner.token)
  const json = { ...owner, 'content-type': 'application/json' }
  const cases: Array<[string, InjectOptions, number, string]> = [
    ['a urn:uuid: path id (Ajv format uuid allows it, PostgreSQL does not)', { method: 'DELETE', url: `/v1/articles/urn%3Auuid%3A${articlesOfA[0]!}`, headers: owner }, 400, 'validation_failed'],
    ['a NUL in a tenant name', { method: 'POST', url: '/v1/tenants', headers: owner, payload: { slug: 'nul-name', name: 'a\u0000b' } }, 400, 'validation_failed'],
    ['a NUL in a query filter', { method: 'GET', url: '/v1/audit-log?object_type=%00', headers: owner }, 400, 'validation_failed'],
    ['a NUL in a login email', { method: 'POST', url: '/v1/auth/login', payload: { email: 'a\u0000@b.test', password: 'x' } }, 400, 'validation_failed'],
    ['a lone surrogate in an article title', { method: 'POST', url: '/v1/articles', headers: json, payload: '{"title":"\\udfff"}' }, 400, 'validation_failed'],
    ['a lone surrogate in a key', { method: 'POST', url: '/v1/articles', headers: json, payload: '{"title":"t","\\ud800":1}' }, 400, 'validation_failed'],
    ['limit=Infinity', { method: 'GET', url: '/v1/articles?limit=Infinity', headers: owner }, 400, 'validation_failed'],
    ['limit=-1e400', { method: 'GET', url: '/v1/members?limit=-1e400', headers: owner }, 400, 'validation_failed'],
    ['a URL with broken percent-encoding', { method: 'GET', url: '/v1/articles/%E0%A4%A', headers: owner }, 404, 'not_found'],
    ['a path parameter over 100 characters', { method: 'GET', url: `/v1/articles/${'x'.repeat(101)}`, headers: owner }, 404, 'not_found']
  ]
  for (const [label, request, status, code] of cases) {
    const response = await app.inject(request)
    tt.equal(response.statusCode, status, `${label}: ${status}`)
    tt.match(response.headers['content-type'], /^application\/problem\+json/, `${label}: problem+json`)
    tt.equal(response.json().code, code, `${label}: ${code}`)
  }
  const signedEvent = (created: string, extra = '') => signed({
    method: 'POST',
    url: '/v1/webhooks/payments',
    headers: { 'content-type': 'application/json' },
    payload: `{"id":"evt-${randomUUID()}","type":"invoice.paid","created":${created},"data":{"tenant_id":"${a.id}","subscription_id":"s","plan":"p","status":"active"${extra}}}`
  }, true)
  for (const [label, request] of [
    ['a signed event with created "Infinity"', signedEvent('"Infinity"')],
    ['a signed event with a lone surrogate in an extra field', signedEvent('1700000000', ',"note":"\\ud800"')]
  ] as const) {
    const response = await app.inject(request)
    tt.equal(response.statusCode, 400, `${label}: 400`)
    tt.equal(response.json().code, 'validation_failed', label)
  }
})

t.test(`every route survives hostile requests (seed ${seed}, ${numRuns} runs)`, async tt => {
  tt.ok(routes.length >= 20, `${routes.length} routes fuzzed; skipped ${skippedHead.length} HEAD routes and ${skippedAssets.length} /docs static asset routes (${app.routeTable.length} in all)`)
  const started = Date.now()
  let lastFailure: string | undefined
  const property = fc.asyncProperty(
    fc.constantFrom(...routes).chain(route => routeArb(route).map(generated => ({ route, generated }))),
    async ({ route, generated }) => {
      const label = `${route.method} ${route.url} [${generated.mutation.kind}, caller ${generated.caller}]`
      let request: InjectOptions
      let response: LightMyRequestResponse
      try {
        request = toRequest(route, generated)
        // the provider speaks for tenant A only: an event naming B arrives with a forged signature
        if (signedBy(route) && generated.caller !== 'none') request = signed(request, generated.caller !== 'garbage' && !String(request.payload).includes(b.id))
        response = await app.inject(request)
      } catch (error) {
        lastFailure = `${label}: the request could not be made: ${(error as Error).stack ?? String(error)}`
        throw error
      }
      sent++
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
      byRoute.set(`${route.method} ${route.url}`, (byRoute.get(`${route.method} ${route.url}`) ?? 0) + 1)
      if (response.statusCode >= 500) serverErrors++
      const problem = problemIn(request, response)
      if (problem !== undefined) {
        lastFailure = `${label}: ${problem}`
        throw new Error(lastFailure)
      }
    }
  )
  try {
    await fc.assert(property, { seed, numRuns, endOnFailure: true })
  } catch {
    tt.fail(`fuzz failed; replay with FUZZ_SEED=${seed}: ${lastFailure ?? 'see above'}`)
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  tt.comment(`fuzz: ${sent} requests in ${seconds} s over ${byRoute.size} routes, ${serverErrors} 5xx; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((x, y) => x[0] - y[0])))}`)
  tt.ok(sent >= 2_000, `${sent} generated requests sent`)
  tt.equal(serverErrors, 0, 'no 5xx')
  for (const route of routes) tt.ok(byRoute.has(`${route.method} ${route.url}`), `${route.method} ${route.url} was fuzzed`)
})

t.test('the process still serves, and logged no server error', async tt => {
  tt.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
  tt.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
  const me = await app.inject({ method: 'GET', url: '/v1/me', headers: bearer(b.owner.token) })
  tt.equal(me.statusCode, 200, 'a member of B is still served')
  const errors = logs.filter(line => line.level === 'error' || line.level === 'fatal')
  tt.same(errors.map(line => line.msg), [], 'no error-level log line')
})

t.test('nothing was polluted: Object.prototype has no new keys', async tt => {
  tt.same(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeBefore)
  tt.equal(({} as Record<string, unknown>).polluted, undefined)
  tt.equal(({} as Record<string, unknown>).is_staff, undefined)
})

t.test("tenant B's data is untouched", async tt => {
  const bRowsAfter = await snapshotOfB()
  for (const table of Object.keys(bRowsBefore)) tt.equal(bRowsAfter[table], bRowsBefore[table], `B's rows in ${table}`)
  tt.same(bRowsAfter, bRowsBefore, "B's rows, read as the owner role, are what they were")
  tt.same(await viewOfB(), bBefore, "B's articles, members, tenant and audit log, read through the API, are what they were")
})
