import t, { type Test } from 'tap'
import fc from 'fast-check'
import { createHmac, randomInt, randomUUID } from 'node:crypto'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { createSql } from '../src/platform/db/client.ts'
import { splitList } from '../src/config.ts'
import type { RouteEntry } from '../src/app.ts'
import { buildTestApp } from './helpers/app.ts'
import { addMember, createTenant, enableFeature, relaxedAuthLimits } from './helpers/tenants.ts'
import { bearer, registerUser, tokenFor } from './helpers/users.ts'
import {
  apiProblemCodes, arbitraryOf, breakValue, cursorArb, headerNoise, plausibleCursor, plausibleKeyCursor, TENANT_KEY_IS_VALID, TENANT_KEY_LOOKS_VALID,
  type Broken, type Json, type Schema
} from './helpers/fuzz-schema.ts'
import { WriteWatch } from './helpers/fuzz-writes.ts'

/**
 * Hostile input, property-based: for every route of the app, requests generated from the route's
 * own schemas (params, querystring, headers, body), valid and broken at one known spot (wrong
 * types, boundary lengths, impossible dates, huge numbers), then mutated (huge strings, deep
 * nesting, unicode edge cases, duplicate and prototype-polluting keys, invalid UTF-8, NUL bytes,
 * SQL-looking strings, path parameters of every shape, cursors that are base64url of anything,
 * random tenant keys up to 16 KiB, other content types, bad credentials), sent as anonymous, as a
 * member of another tenant, as a user of no tenant, as each role and as staff.
 *
 * On every response: never a 5xx; every 4xx is problem+json whose code is one API.md lists, with
 * the status API.md gives it; nothing in the database changed on a 4xx (helpers/fuzz-writes.ts:
 * none of the app's 4xx may write; rate-limit counters live in Redis and are not watched; the one
 * 4xx API.md lets write, reuse of a spent refresh token, is never generated: the fuzzer holds no
 * refresh token it has spent). A request broken against its schema is never accepted, a non-JSON
 * body on a JSON route is 415, a cursor the API cannot have issued is refused, an X-Tenant that
 * is neither slug nor id is refused without the tenant cache learning it. Afterwards the process
 * serves, logged no error, and tenant B, whose members send nothing there, is exactly as it was.
 *
 * The seed is random unless FUZZ_SEED=<integer> replays one; FUZZ_RUNS sets the number of
 * generated requests (shared among the properties below); `npm run fuzz -- --runs N [--seed S]`.
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

const seed = process.env.FUZZ_SEED === undefined || process.env.FUZZ_SEED === 'random' ? randomInt(2 ** 31) : Number(process.env.FUZZ_SEED)
const totalRuns = Number(process.env.FUZZ_RUNS ?? 6_000)
if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(totalRuns) || totalRuns < 1) throw new Error('FUZZ_SEED and FUZZ_RUNS are integers')
/** a CI run (the default count) sends at least this many requests */
const MIN_REQUESTS = 5_000
// on stderr: tap's terminal reporter hides a passing file's comments, and these two lines must show
process.stderr.write(`# fuzz seed ${seed}, ${totalRuns} runs; replay: FUZZ_SEED=${seed} FUZZ_RUNS=${totalRuns} npx tap test/fuzz.test.ts, or npm run fuzz -- --seed ${seed} --runs ${totalRuns}\n`)

/** code → status, as API.md lists them (the spec sits in ../shared beside the repository, or in $SHARED) */
const apiCodes = apiProblemCodes(process.env.SHARED === undefined
  ? new URL('../../shared/API.md', import.meta.url)
  : pathToFileURL(join(resolve(process.env.SHARED), 'API.md')))

// ---- the world: tenant A (the caller's), tenant B (the bystander) --------------------------------

const a = await createTenant(app)
const b = await createTenant(app)
const staff = await addMember(app, a, 'editor', 'Staff')
await owner`update users set is_staff = true where id = ${staff.id}`
await app.invalidation.publish('user', staff.id)
// the admin and editor who call are not a.admin and a.editor, whom the generator may demote or remove
const callingAdmin = await addMember(app, a, 'admin', 'Fuzz admin')
const callingEditor = await addMember(app, a, 'editor', 'Fuzz editor')
const outsiderUser = await registerUser(app, { name: 'Outsider' })
const outsiderToken = await tokenFor(app, outsiderUser.email)
// scheduling is behind a flag: on for A, so its body validation is reached
await enableFeature(app, 'scheduled-publishing', [a.id])
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

const membersOfA = [a.owner, a.admin, a.editor, a.viewer, staff, callingAdmin, callingEditor]
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

const valueOptions = { knownIds, knownEmails }
const uuidArb = fc.oneof(fc.uuid(), fc.constantFrom(...knownIds))
const arbitraryFor = (schema: Schema) => arbitraryOf(schema, valueOptions)

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
/** media types that are not JSON by any reading: a JSON route must answer them 415 */
const notJsonTypes = [
  'text/plain', 'text/plain; charset=utf-8', 'TEXT/PLAIN', 'text/html', 'text/json', 'text/csv', 'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz', 'application/xml', 'application/octet-stream', 'application/jsonx', 'application/javascript',
  'application/x-ndjson', 'image/png'
]
const mediaTypeOf = (type: string) => type.split(';')[0]!.trim().toLowerCase()
const isNotJson = (type: string) => {
  const media = mediaTypeOf(type)
  return /^[a-z]+\/[a-z0-9.+-]+$/.test(media) && media !== 'application/json' && !media.endsWith('+json')
}

// ---- one request ----------------------------------------------------------------------------------

type Caller = 'owner' | 'admin' | 'editor' | 'viewer' | 'staff' | 'outsider' | 'b-token' | 'none' | 'garbage' | 'refresh-as-bearer' | 'huge'
const callers: Array<{ weight: number, arbitrary: fc.Arbitrary<Caller> }> = [
  { weight: 8, arbitrary: fc.constant('owner') },
  { weight: 2, arbitrary: fc.constant('admin') },
  { weight: 2, arbitrary: fc.constant('editor') },
  { weight: 2, arbitrary: fc.constant('viewer') },
  { weight: 2, arbitrary: fc.constant('staff') },
  { weight: 1, arbitrary: fc.constant('outsider') },
  { weight: 2, arbitrary: fc.constant('b-token') },
  { weight: 2, arbitrary: fc.constant('none') },
  { weight: 1, arbitrary: fc.constantFrom<Caller>('garbage', 'refresh-as-bearer', 'huge') }
]
const authorization: Record<Caller, string | undefined> = {
  owner: `Bearer ${a.owner.token}`,
  admin: `Bearer ${callingAdmin.token}`,
  editor: `Bearer ${callingEditor.token}`,
  viewer: `Bearer ${a.viewer.token}`,
  staff: `Bearer ${staff.token}`,
  outsider: `Bearer ${outsiderToken}`, // a user of no tenant
  'b-token': `Bearer ${b.owner.token}`, // a member of another tenant: always sent with X-Tenant: A (see toRequest)
  none: undefined,
  garbage: 'Bearer a.b.c',
  'refresh-as-bearer': `Bearer ${refreshTokenOfA}`,
  huge: `Bearer ${'x'.repeat(8_000)}`
}

/** X-Tenant values that are neither A nor B: noise up to 16 KiB, slugs and ids of no tenant, SQL */
const randomTenantKey: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.integer(), fc.oneof(fc.integer({ min: 1, max: 80 }), fc.constantFrom(16_384, 8_000, 1_000))).map(([n, length]) => headerNoise(n, length)),
  fc.stringMatching(/^[a-z0-9](-?[a-z0-9]){2,39}$/),
  fc.uuid(),
  fc.uuid().map(id => id.toUpperCase()),
  fc.string({ unit: 'grapheme-ascii', maxLength: 70 }),
  fc.constantFrom(...sqlStrings, 'x'.repeat(16_384), 'a'.repeat(65), '__proto__', 'constructor', 'null', '*', '%', '../')
)
const tenantHeader = fc.oneof(
  { weight: 8, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.constantFrom(a.slug, a.id, a.slug.toUpperCase(), ` ${a.slug} `, a.id.toUpperCase()) },
  { weight: 1, arbitrary: fc.constantFrom(b.slug, b.id) },
  { weight: 2, arbitrary: fc.oneof(randomTenantKey, fc.constantFrom('', ' ')) }
)

/** Other request headers the app reads or might: request ids, revalidation, hosts naming tenants. */
const headerMutations: fc.Arbitrary<Record<string, string>> = fc.oneof(
  fc.oneof(randomTenantKey, fc.constantFrom('ok-id', 'a'.repeat(128), 'a'.repeat(129), '')).map(v => ({ 'x-request-id': v })),
  fc.oneof(randomTenantKey, fc.constantFrom('*', 'W/"x"', '"x", W/"y"', 'W/', '""')).map(v => ({ 'if-none-match': v })),
  fc.oneof(randomTenantKey, fc.constantFrom(a.slug, b.slug)).map(v => ({ host: `${v.replace(/[^a-z0-9-]/gi, '') || 'x'}.api.localhost` })),
  fc.constantFrom('application/xml', 'text/html;q=0', '*/*;q=abc', '').map(v => ({ accept: v })),
  fc.constantFrom('gzip', 'br;q=1, *;q=0', 'x'.repeat(4_000)).map(v => ({ 'accept-encoding': v }))
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
  /** broken against the route's own schema at one spot: `part` and `picks` choose where (fuzz-schema.ts) */
  | { kind: 'schema-invalid', part: number, picks: number[] }
  | { kind: 'cursor', cursor: string }
  | { kind: 'headers', headers: Record<string, string> }

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
  { weight: 2, arbitrary: fc.nat().map((offset): Mutation => ({ kind: 'unicode-everywhere', offset })) },
  { weight: 10, arbitrary: fc.record({ part: fc.nat(), picks: fc.array(fc.nat(), { minLength: 6, maxLength: 6 }) }).map((m): Mutation => ({ kind: 'schema-invalid', ...m })) },
  { weight: 2, arbitrary: cursorArb(uuidArb).map((cursor): Mutation => ({ kind: 'cursor', cursor })) },
  { weight: 2, arbitrary: headerMutations.map((headers): Mutation => ({ kind: 'headers', headers })) }
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

const schemaOf = (route: RouteEntry, part: 'params' | 'querystring' | 'body' | 'headers'): Schema | undefined =>
  route.schema?.[part] as Schema | undefined

const routeArb = (route: RouteEntry, overrides: { caller?: fc.Arbitrary<Caller>, tenant?: fc.Arbitrary<string | undefined>, mutation?: fc.Arbitrary<Mutation> } = {}): fc.Arbitrary<Generated> => {
  const params = schemaOf(route, 'params')
  const query = schemaOf(route, 'querystring')
  const body = schemaOf(route, 'body')
  return fc.record({
    params: (params ? arbitraryFor(params) : fc.constant({})) as fc.Arbitrary<Record<string, Json>>,
    query: (query ? arbitraryFor(query) : fc.constant({})) as fc.Arbitrary<Record<string, Json>>,
    body: body ? arbitraryFor(body) : fc.option(fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>, { nil: undefined, freq: 4 }),
    caller: overrides.caller ?? fc.oneof(...callers),
    tenant: overrides.tenant ?? tenantHeader,
    mutation: overrides.mutation ?? mutationArb,
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

/** What a request was built to provoke, beyond the checks every response gets. */
interface Expectation {
  /** broken against the route's own schema: never accepted */
  broken?: Broken & { part: string }
  /** a body that is not JSON on a route that takes JSON: 415 */
  notJson?: string
  /** a cursor the API cannot have issued: refused */
  badCursor?: string
  /** valid in every part and allowed: 2xx */
  accepted?: boolean
  /** an X-Tenant of slug or id syntax naming no tenant, from a signed-in caller: 404 tenant_not_found */
  tenantNotFound?: boolean
}

interface Built { request: InjectOptions, expect: Expectation }

function toRequest (route: RouteEntry, generated: Generated): Built {
  const { mutation } = generated
  const expect: Expectation = {}
  const headers: Record<string, string> = {}
  // B's own token is used only as a foreign credential: against tenant A, on tenant routes. Staff
  // may name B in a flag (audited in B's log, rightly): the platform's staff are not the attacker
  const namesB = JSON.stringify(generated.body ?? null).toLowerCase().includes(b.id)
  const caller = (generated.caller === 'b-token' && route.config.tenant !== true) || (generated.caller === 'staff' && namesB) ? 'owner' : generated.caller
  const auth = authorization[caller]
  if (auth !== undefined) headers.authorization = auth
  const tenant = caller === 'b-token' ? a.slug : generated.tenant
  if (tenant !== undefined) headers['x-tenant'] = tenant

  if (route.url === '*') {
    headers.origin = generated.preflight.origin
    if (generated.preflight.method !== undefined) headers['access-control-request-method'] = generated.preflight.method
    return { request: { method: 'OPTIONS', url: generated.preflight.path, headers }, expect }
  }

  let generatedParams = generated.params
  let generatedQuery = generated.query
  let generatedBody = generated.body
  if (mutation.kind === 'schema-invalid') {
    const parts = (['body', 'querystring', 'params', 'headers'] as const).filter(part => schemaOf(route, part) !== undefined)
    const part = parts[mutation.part % Math.max(parts.length, 1)]
    if (part === 'headers') {
      // header values are text that the route's schema types; what can break them here is absence
      const required = schemaOf(route, 'headers')?.required ?? []
      const name = required[mutation.picks[0]! % Math.max(required.length, 1)]
      if (name !== undefined) expect.broken = { part, value: null, where: `/${name}`, why: 'a required header left out', lenient: false }
    } else if (part !== undefined) {
      const value = part === 'body' ? generatedBody ?? {} : part === 'querystring' ? generatedQuery : generatedParams
      const broken = breakValue(schemaOf(route, part)!, value, mutation.picks, part === 'body' ? 'json' : 'text')
      if (broken !== undefined) {
        if (part === 'body') generatedBody = broken.value
        else if (part === 'querystring') generatedQuery = broken.value as Record<string, Json>
        else generatedParams = broken.value as Record<string, Json>
        // an empty path parameter is another URL (an index route answers it), not a broken one
        const emptyParam = part === 'params' && Object.values(generatedParams).some(v => v === '')
        if (!emptyParam) expect.broken = { ...broken, part }
      }
    }
  }

  const params = { ...generatedParams }
  const paramNames = Object.keys(params)
  const rawParams: Record<string, string> = Object.fromEntries(paramNames.map(name => [name, encodeURIComponent(String(params[name]))]))
  if (mutation.kind === 'path' && paramNames.length > 0) rawParams[paramNames[mutation.where % paramNames.length]!] = mutation.raw
  const path = route.url.replace(/:(\w+)/g, (_, name: string) => rawParams[name] ?? 'x')

  const query: Record<string, Json> = { ...generatedQuery }
  let body: Json | undefined = generatedBody
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
    case 'cursor':
      if (schemaOf(route, 'querystring')?.properties?.cursor !== undefined) {
        query.cursor = mutation.cursor
        // two cursor formats: the flag list pages by key, every other list by (created_at, id)
        const plausible = route.url.startsWith('/v1/admin/flags') ? plausibleKeyCursor : plausibleCursor
        if (!plausible(mutation.cursor)) expect.badCursor = mutation.cursor
      }
      break
    case 'headers':
      Object.assign(headers, mutation.headers)
      break
    case 'content-type':
      if (schemaOf(route, 'body') !== undefined && isNotJson(mutation.type)) expect.notJson = mutation.type
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
  return { request: { method: route.method as InjectOptions['method'], url, headers, ...(payload === undefined ? {} : { payload }) }, expect }
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

const watch = await WriteWatch.create(owner)

interface Tally { sent: number, statuses: Map<number, number>, byRoute: Map<string, number>, serverErrors: number }
const newTally = (): Tally => ({ sent: 0, statuses: new Map(), byRoute: new Map(), serverErrors: 0 })
const total = newTally()
const fuzzStarted = Date.now()
const countIn = (tally: Tally, route: string, status: number) => {
  tally.sent++
  tally.statuses.set(status, (tally.statuses.get(status) ?? 0) + 1)
  tally.byRoute.set(route, (tally.byRoute.get(route) ?? 0) + 1)
  if (status >= 500) tally.serverErrors++
}
const statusLine = (tally: Tally) => JSON.stringify(Object.fromEntries([...tally.statuses].sort((x, y) => x[0] - y[0])))

const shorten = (value: unknown) => {
  const text = typeof value === 'string' ? value : Buffer.isBuffer(value) ? `<${value.length} bytes> ${value.toString('utf8')}` : JSON.stringify(value)
  return text === undefined ? 'undefined' : text.length > 300 ? `${text.slice(0, 300)}…(${text.length} chars)` : text
}

/** the request's headers with a bearer token cut short: the other headers are what a reader needs */
const readableHeaders = (request: InjectOptions) => Object.fromEntries(Object.entries(request.headers ?? {})
  .map(([name, value]) => [name, name === 'authorization' && String(value).length > 40 ? `${String(value).slice(0, 20)}…(${String(value).length} chars)` : value]))

/** codes a request can get before its body is parsed (onRequest: auth, tenancy, permission, flag, per-IP limit) */
const beforeParsing = new Set(['unauthenticated', 'token_expired', 'tenant_required', 'tenant_not_found', 'forbidden', 'feature_not_enabled', 'rate_limited', 'payload_too_large'])
/** codes an X-Tenant that is neither slug nor id may get: authentication comes first, then the key is refused */
const badTenantKeyCodes = new Set(['unauthenticated', 'token_expired', 'validation_failed', 'tenant_not_found', 'rate_limited'])

/** The X-Tenant as the app reads it, when it is present and can be neither a slug nor an id. */
function badTenantKey (request: InjectOptions): string | undefined {
  const raw = (request.headers as Record<string, string> | undefined)?.['x-tenant']
  if (typeof raw !== 'string' || raw.trim() === '') return undefined
  const key = raw.trim().toLowerCase()
  return TENANT_KEY_LOOKS_VALID.test(key) ? undefined : key
}

/** What is wrong with this answer to this request, if anything. */
function verdict (route: RouteEntry, request: InjectOptions, expect: Expectation, response: LightMyRequestResponse): string | undefined {
  const describe = () => `${String(request.method)} ${shorten(request.url)} headers=${shorten(readableHeaders(request))} payload=${shorten(request.payload)} → ${response.statusCode} ${shorten(response.body)}`
  const status = response.statusCode
  if (status >= 500) return `a ${status}: ${describe()}`
  let code: string | undefined
  if (status >= 400) {
    if (!/^application\/problem\+json/.test(String(response.headers['content-type']))) return `an error that is not problem+json: ${describe()}`
    let problem: { code?: unknown, status?: unknown }
    try {
      problem = response.json()
    } catch {
      return `a problem body that is not JSON: ${describe()}`
    }
    if (typeof problem.code !== 'string' || problem.status !== status) return `a problem without code or with the wrong status: ${describe()}`
    code = problem.code
    if (apiCodes.get(code) !== status) return `code ${code} with status ${status}, which API.md does not list (${apiCodes.has(code) ? `it says ${apiCodes.get(code)!}` : 'no such code'}): ${describe()}`
  }
  if (expect.broken !== undefined && status < 400) {
    const { part, where, why, lenient } = expect.broken
    return `a request breaking the ${part} schema at ${where} (${why}${lenient ? '; Ajv\'s type coercion accepts it' : ''}) was accepted: ${describe()}`
  }
  // an X-Tenant that is blank or neither slug nor id may be refused (validation_failed) before the body is read
  const oddTenantHeader = badTenantKey(request) !== undefined || (request.headers as Record<string, string> | undefined)?.['x-tenant']?.trim() === ''
  if (expect.notJson !== undefined && status !== 415 && !(code !== undefined && (beforeParsing.has(code) || (code === 'validation_failed' && oddTenantHeader)))) {
    return `a ${expect.notJson} body on a JSON route was not 415 unsupported_media_type: ${describe()}`
  }
  if (expect.badCursor !== undefined && status < 400) return `a cursor the API cannot have issued was accepted: ${describe()}`
  if (expect.accepted === true && status >= 300) return `a valid request was refused: ${describe()}`
  if (expect.tenantNotFound === true && code !== 'tenant_not_found') return `an X-Tenant naming no tenant was not 404 tenant_not_found: ${describe()}`
  const matched = response.headers['x-route'] === `${route.method} ${route.url}`
  const tenantKey = route.config.tenant === true && matched ? badTenantKey(request) : undefined
  if (tenantKey !== undefined) {
    if (code === undefined || !badTenantKeyCodes.has(code)) return `an X-Tenant that is neither slug nor id was not refused (${code ?? status}): ${describe()}`
    if (app.tenants.peekTenant(tenantKey) !== undefined) return `an X-Tenant that is neither slug nor id was looked up (the tenant cache holds it): ${describe()}`
  }
  return undefined
}

/** Sends one request and judges the answer; throws (for fast-check) with the reason. */
async function send (tally: Tally, route: RouteEntry, label: string, build: () => Built): Promise<void> {
  let built: Built
  let response: LightMyRequestResponse
  try {
    built = build()
    await watch.before()
    response = await app.inject(built.request)
  } catch (error) {
    throw new Error(`${label}: the request could not be made: ${(error as Error).stack ?? String(error)}`, { cause: error })
  }
  const name = `${route.method} ${route.url}`
  countIn(tally, name, response.statusCode)
  countIn(total, name, response.statusCode)
  const problem = verdict(route, built.request, built.expect, response)
  if (problem !== undefined) throw new Error(`${label}: ${problem}`)
  if (response.statusCode >= 400 && response.statusCode < 500) {
    const written = await watch.after()
    if (written.length > 0) throw new Error(`${label}: a ${response.statusCode} ${shorten(response.body)} that wrote to ${written.join(', ')}: ${String(built.request.method)} ${shorten(built.request.url)} payload=${shorten(built.request.payload)}`)
  }
}

/**
 * Runs one property over `runs` generated requests with the run's seed. A failure is shrunk (each
 * shrinking step is a request too) and reported with its counterexample and fast-check's replay path.
 */
async function fuzz<T> (tt: Test, name: string, runs: number, arbitrary: fc.Arbitrary<T>, check: (value: T, tally: Tally) => Promise<void>): Promise<Tally> {
  const tally = newTally()
  const started = Date.now()
  let lastFailure: string | undefined
  const details = await fc.check(fc.asyncProperty(arbitrary, async value => {
    try {
      await check(value, tally)
    } catch (error) {
      lastFailure = (error as Error).message
      throw error
    }
  }), { seed, numRuns: runs })
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  tt.comment(`${name}: ${tally.sent} requests in ${seconds} s, ${tally.serverErrors} 5xx; statuses ${statusLine(tally)}`)
  if (details.failed) {
    tt.fail(`${name}: ${lastFailure ?? String(details.errorInstance)}\n  replay: FUZZ_SEED=${seed} FUZZ_RUNS=${totalRuns} (fast-check path ${details.counterexamplePath ?? '-'}, ${details.numShrinks} shrinks)`)
  } else {
    tt.pass(`${name}: ${runs} runs`)
  }
  return tally
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
    ['a path parameter over 100 characters', { method: 'GET', url: `/v1/articles/${'x'.repeat(101)}`, headers: owner }, 404, 'not_found'],
    // the schema-driven fuzzer's shrunk counterexamples (issue 14): a 500, a 400 where API.md says 415, coercion
    ['a cursor of ["0000-00-00T00:00:00Z", id] (was a 500)', { method: 'GET', url: `/v1/members?limit=1&cursor=${Buffer.from(JSON.stringify(['0000-00-00T00:00:00Z', '00000000-0000-1000-8000-000000000000'])).toString('base64url')}`, headers: owner }, 400, 'validation_failed'],
    ['a text/plain body on PUT /v1/admin/flags/:key (was 400)', { method: 'PUT', url: '/v1/admin/flags/-', headers: { ...bearer(staff.token), 'content-type': 'text/plain' }, payload: '{"description":"é","enabled":false,"internal_only":false,"tenants":[],"percentage":0}' }, 415, 'unsupported_media_type'],
    ['a tenant name that is a number (was coerced to "42")', { method: 'POST', url: '/v1/tenants', headers: owner, payload: { slug: 'fuzz-coerced', name: 42 } }, 400, 'validation_failed'],
    ['X-Tenant ":" (was looked up and cached)', { method: 'GET', url: '/v1/articles?limit=1', headers: { ...owner, 'x-tenant': ':' } }, 400, 'validation_failed']
  ]
  for (const [label, request, status, code] of cases) {
    const response = await app.inject(request)
    tt.equal(response.statusCode, status, `${label}: ${status}`)
    tt.match(response.headers['content-type'], /^application\/problem\+json/, `${label}: problem+json`)
    tt.equal(response.json().code, code, `${label}: ${code}`)
  }
  tt.equal(app.tenants.peekTenant(':'), undefined, 'X-Tenant ":" left no trace in the tenant cache')
  const signedEvent = (created: string, extra = '', id = `"evt-${randomUUID()}"`) => signed({
    method: 'POST',
    url: '/v1/webhooks/payments',
    headers: { 'content-type': 'application/json' },
    payload: `{"id":${id},"type":"invoice.paid","created":${created},"data":{"tenant_id":"${a.id}","subscription_id":"s","plan":"p","status":"active"${extra}}}`
  }, true)
  for (const [label, request] of [
    ['a signed event with created "Infinity"', signedEvent('"Infinity"')],
    ['a signed event with a lone surrogate in an extra field', signedEvent('1700000000', ',"note":"\\ud800"')],
    ['a signed event with created "1" (was acknowledged and processed)', signedEvent('"1"')],
    ['a signed event whose id is 42 (was acknowledged and processed)', signedEvent('1700000000', '', '42')]
  ] as const) {
    const response = await app.inject(request)
    tt.equal(response.statusCode, 400, `${label}: 400`)
    tt.equal(response.json().code, 'validation_failed', label)
  }
})

const share = (fraction: number) => Math.max(1, Math.round(totalRuns * fraction))
const nameOf = (route: RouteEntry) => `${route.method} ${route.url}`
const signIfSigned = (route: RouteEntry, generated: Generated, built: Built): Built =>
  // the provider speaks for tenant A only: an event naming B (in any case: ids may come upper-cased)
  // arrives with a forged signature
  signedBy(route) && generated.caller !== 'none' && built.expect.broken?.part !== 'headers'
    ? { ...built, request: signed(built.request, generated.caller !== 'garbage' && !String(built.request.payload).toLowerCase().includes(b.id)) }
    : built

t.test('every route, every identity: requests from the route schemas, valid, broken and hostile', async tt => {
  tt.ok(routes.length >= 20, `${routes.length} routes fuzzed; skipped ${skippedHead.length} HEAD routes and ${skippedAssets.length} /docs static asset routes (${app.routeTable.length} in all)`)
  const tally = await fuzz(tt, 'all routes', share(0.6),
    fc.constantFrom(...routes).chain(route => routeArb(route).map(generated => ({ route, generated }))),
    async ({ route, generated }, tally) => send(tally, route, `${nameOf(route)} [${generated.mutation.kind}, caller ${generated.caller}]`,
      () => signIfSigned(route, generated, toRequest(route, generated))))
  // a short replay (npm run fuzz -- --runs 50) cannot be expected to reach every route
  if (share(0.6) >= 30 * routes.length) for (const route of routes) tt.ok(tally.byRoute.has(nameOf(route)), `${nameOf(route)} was fuzzed`)
})

const listRoutes = routes.filter(route => schemaOf(route, 'querystring')?.properties?.cursor !== undefined)
t.test('cursors: base64url of anything, impossible timestamps in the issued shape', async tt => {
  tt.ok(listRoutes.length >= 4, `list routes: ${listRoutes.map(nameOf).join(', ')}`)
  await fuzz(tt, 'cursors', share(0.1),
    fc.constantFrom(...listRoutes).chain(route => routeArb(route, {
      caller: fc.constantFrom<Caller>('owner', 'admin', 'staff'),
      tenant: fc.constant(undefined),
      mutation: cursorArb(uuidArb).map((cursor): Mutation => ({ kind: 'cursor', cursor }))
    }).map(generated => ({ route, generated }))),
    async ({ route, generated }, tally) => send(tally, route, `${nameOf(route)} [cursor, caller ${generated.caller}]`, () => toRequest(route, generated)))
})

const tenantRoutes = routes.filter(route => route.config.tenant === true)
t.test('X-Tenant: random keys up to 16 KiB, slugs and ids of no tenant', async tt => {
  tt.ok(tenantRoutes.length >= 10, `${tenantRoutes.length} tenant-scoped routes`)
  await fuzz(tt, 'tenant keys', share(0.1),
    fc.constantFrom(...tenantRoutes).chain(route => routeArb(route, {
      caller: fc.constantFrom<Caller>('owner', 'admin', 'editor', 'viewer', 'staff', 'outsider', 'none'),
      tenant: randomTenantKey,
      mutation: fc.constant<Mutation>({ kind: 'none' })
    }).map(generated => ({ route, generated }))),
    async ({ route, generated }, tally) => {
      const label = `${nameOf(route)} [X-Tenant, caller ${generated.caller}]`
      await send(tally, route, label, () => {
        const built = toRequest(route, generated)
        const key = generated.tenant?.trim().toLowerCase() ?? ''
        // a key of slug or id syntax that names no tenant: the same 404 as a tenant one is not in
        if (TENANT_KEY_IS_VALID.test(key) && key !== a.slug && key !== a.id && key !== b.slug && key !== b.id && generated.caller !== 'none') {
          built.expect.tenantNotFound = true
        }
        return built
      })
    })
})

const jsonRoutes = routes.filter(route => schemaOf(route, 'body') !== undefined)
t.test('content types: a JSON route given any other is 415', async tt => {
  tt.ok(jsonRoutes.length >= 10, `${jsonRoutes.length} routes take a JSON body`)
  await fuzz(tt, 'content types', share(0.08),
    fc.constantFrom(...jsonRoutes).chain(route => routeArb(route, {
      caller: fc.constant<Caller>(route.url.startsWith('/v1/admin') ? 'staff' : 'owner'),
      tenant: fc.constant(undefined),
      mutation: fc.record({ type: fc.constantFrom(...notJsonTypes), form: fc.boolean() }).map((m): Mutation => ({ kind: 'content-type', ...m }))
    }).map(generated => ({ route, generated }))),
    async ({ route, generated }, tally) => send(tally, route, `${nameOf(route)} [content type]`, () => signIfSigned(route, generated, toRequest(route, generated))))
})

const webhookRoutes = routes.filter(signedBy)
t.test('webhooks: correctly signed events, valid or broken against the payload schema', async tt => {
  tt.ok(webhookRoutes.length >= 1, `signed routes: ${webhookRoutes.map(nameOf).join(', ')}`)
  const eventArb = fc.constantFrom(...webhookRoutes).chain(route => fc.record({
    event: arbitraryFor(schemaOf(route, 'body')!),
    tenant: fc.oneof(fc.constant(a.id), fc.uuid()),
    extra: fc.option(fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>, { maxKeys: 3 }), { nil: undefined }),
    broken: fc.oneof({ weight: 3, arbitrary: fc.array(fc.nat(), { minLength: 6, maxLength: 6 }) }, { weight: 1, arbitrary: fc.constant(undefined) })
  }).map(generated => ({ route, ...generated })))
  await fuzz(tt, 'webhooks', share(0.12), eventArb, async ({ route, event, tenant, extra, broken: picks }, tally) => {
    const valid = event as Record<string, Json>
    const data = { ...(valid.data as Record<string, Json>), tenant_id: tenant }
    const whole: Json = { ...(extra ?? {}), ...valid, data }
    const broken = picks === undefined ? undefined : breakValue(schemaOf(route, 'body')!, whole, picks, 'json')
    const body = broken?.value ?? whole
    await send(tally, route, `${nameOf(route)} [signed${broken === undefined ? '' : `, broken at ${broken.where}`}]`, () => {
      const payload = JSON.stringify(body)
      const expect: Expectation = {}
      if (broken !== undefined) expect.broken = { ...broken, part: 'body' }
      // NUL and lone surrogates are refused as unstorable (validation_failed), whatever the schema says
      else if (!/\\u(0000|d[89a-f])/i.test(payload)) expect.accepted = true
      return { request: signed({ method: 'POST', url: route.url, headers: { 'content-type': 'application/json' }, payload }, true), expect }
    })
  })
})

t.test('the run in numbers', async tt => {
  const seconds = ((Date.now() - fuzzStarted) / 1000).toFixed(1)
  process.stderr.write(`# fuzz: ${total.sent} requests in ${seconds} s over ${total.byRoute.size} routes, ${total.serverErrors} 5xx, seed ${seed}; statuses ${statusLine(total)}\n`)
  tt.ok(total.sent >= Math.min(MIN_REQUESTS, totalRuns), `${total.sent} requests sent (seed ${seed})`)
  tt.equal(total.serverErrors, 0, 'no 5xx')
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
