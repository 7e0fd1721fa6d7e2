import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { parseEnv } from 'node:util'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, loadConfig, type Environment } from '../src/config.ts'
import { repoRoot } from './helpers/paths.ts'

const noDotenv = '/nonexistent/atrium/.env'
const SERVER_EXIT_TIMEOUT_MS = 30_000

const productionEnv: Environment = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://atrium_app:pw@db.internal:5432/atrium',
  REDIS_URL: 'redis://cache.internal:6379',
  JWT_SECRETS: 'a-production-secret-of-at-least-32-characters',
  PAYMENTS_WEBHOOK_SECRETS: 'a-webhook-secret-of-24-chars'
}

/** The ConfigError loadConfig throws for env, or a failed assertion when it does not throw one. */
function configErrorOf (tt: Test, env: Environment, dotenvPath = noDotenv): ConfigError | undefined {
  try {
    loadConfig(env, dotenvPath)
  } catch (error) {
    tt.type(error, ConfigError)
    return error instanceof ConfigError ? error : undefined
  }
  tt.fail('loadConfig accepted the settings')
  return undefined
}

/** The variable names a ConfigError complains about, one entry per problem line. */
function namedVariables (error: ConfigError | undefined): string[] {
  return (error?.problems ?? []).map(problem => problem.split(':', 1)[0] ?? '')
}

t.test('valid production settings load, typed and with the defaults filled in', async tt => {
  const config = loadConfig({ ...productionEnv, PORT: '8080', MIGRATE_ON_START: 'true', ROLE: 'api' }, noDotenv)
  tt.equal(config.NODE_ENV, 'production')
  tt.equal(config.PORT, 8080, 'numbers are coerced')
  tt.equal(config.MIGRATE_ON_START, true, 'booleans are coerced')
  tt.equal(config.ROLE, 'api')
  tt.equal(config.DATABASE_URL, productionEnv.DATABASE_URL)
  tt.equal(config.HOST, '127.0.0.1')
  tt.equal(config.DATABASE_POOL_MAX, 10)
  tt.equal(config.DATABASE_OWNER_URL, undefined, 'no owner URL is invented in production')
})

t.test('missing settings in production are each named', async tt => {
  const error = configErrorOf(tt, { NODE_ENV: 'production' })
  tt.same(namedVariables(error).sort(), ['DATABASE_URL', 'JWT_SECRETS', 'PAYMENTS_WEBHOOK_SECRETS', 'REDIS_URL'])
  for (const problem of error?.problems ?? []) tt.match(problem, /: is required/)
  tt.match(error?.message, /^Invalid settings:\n/)
  tt.match(error?.message, /DATABASE_URL/)
})

t.test('invalid values are each named with what is expected, in one error', async tt => {
  const error = configErrorOf(tt, {
    ...productionEnv,
    PORT: 'abc',
    DATABASE_URL: 'mysql://x',
    LOG_LEVEL: 'loud',
    ROLE: 'everything',
    DATABASE_POOL_MAX: '0',
    MIGRATE_ON_START: 'perhaps',
    JWT_SECRETS: 'short'
  })
  tt.same(namedVariables(error).sort(), [
    'DATABASE_POOL_MAX', 'DATABASE_URL', 'JWT_SECRETS', 'LOG_LEVEL', 'MIGRATE_ON_START', 'PORT', 'ROLE'
  ], 'every bad variable once, the production secret check included')
  const message = error?.message ?? ''
  tt.match(message, /PORT: must be integer/)
  tt.match(message, /DATABASE_URL: must match pattern "\^postgres/)
  tt.match(message, /LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent/)
  tt.match(message, /ROLE: must be one of all, api, worker/)
  tt.match(message, /DATABASE_POOL_MAX: must be >= 1/)
  tt.notMatch(message, /REDIS_URL|PAYMENTS_WEBHOOK_SECRETS/, 'valid settings are not named')
})

t.test('production refuses the development secrets and short ones', async tt => {
  const devSecrets = configErrorOf(tt, {
    ...productionEnv,
    JWT_SECRETS: 'development-only-jwt-secret-change-me-0123456789',
    PAYMENTS_WEBHOOK_SECRETS: 'development-only-webhook-secret'
  })
  tt.same(namedVariables(devSecrets).sort(), ['JWT_SECRETS', 'PAYMENTS_WEBHOOK_SECRETS'])

  const oneWeakInRotation = configErrorOf(tt, {
    ...productionEnv,
    JWT_SECRETS: `${productionEnv.JWT_SECRETS ?? ''},too-short`
  })
  tt.same(namedVariables(oneWeakInRotation), ['JWT_SECRETS'], 'every secret of a rotation list is checked')
})

t.test('production refuses placeholder, repeated and low-entropy secrets, in every rotation slot', async tt => {
  const refused: Array<[string, Environment]> = [
    ['a change-me placeholder, any case', { JWT_SECRETS: 'Change-Me-9f3c1e7a5b2d4f6081c3e5a7b9d1f3e5a7c9e1b3' }],
    ['the old compose default', { JWT_SECRETS: 'change-me-jwt-secret-0000000000000000000000000000' }],
    ['one character repeated', { JWT_SECRETS: 'x'.repeat(64) }],
    ['40 hex characters: 160 bits, although longer than 32 characters', { JWT_SECRETS: randomBytes(20).toString('hex') }],
    ['24 random bytes in base64url: 192 bits', { JWT_SECRETS: randomBytes(24).toString('base64url') }],
    ['a weak key behind a strong one', { JWT_SECRETS: `${randomBytes(32).toString('base64url')},${'ab'.repeat(10)}` }],
    ['webhook: the old compose default', { PAYMENTS_WEBHOOK_SECRETS: 'change-me-webhook-secret-00000000' }],
    ['webhook: one character repeated', { PAYMENTS_WEBHOOK_SECRETS: '0'.repeat(40) }],
    ['webhook: 8 random bytes in hex, 64 bits', { PAYMENTS_WEBHOOK_SECRETS: randomBytes(8).toString('hex') }]
  ]
  for (const [label, secrets] of refused) {
    const error = configErrorOf(tt, { ...productionEnv, ...secrets })
    tt.same(namedVariables(error), Object.keys(secrets), label)
  }
  const outside = loadConfig({ NODE_ENV: 'test', JWT_SECRETS: 'change-me', PAYMENTS_WEBHOOK_SECRETS: 'x' }, noDotenv)
  tt.equal(outside.JWT_SECRETS, 'change-me', 'outside production any secret is accepted')
})

t.test('production accepts secrets generated as the README says, in hex, base64 and base64url', async tt => {
  for (const encoding of ['hex', 'base64', 'base64url'] as const) {
    const config = loadConfig({
      ...productionEnv,
      JWT_SECRETS: `${randomBytes(32).toString(encoding)},${randomBytes(32).toString(encoding)}`,
      PAYMENTS_WEBHOOK_SECRETS: randomBytes(16).toString(encoding)
    }, noDotenv)
    tt.equal(config.NODE_ENV, 'production', encoding)
  }
})

t.test('the container smoke settings pass the production checks; the compose example values do not', async tt => {
  const smoke = parseEnv(await readFile(join(repoRoot, 'deploy/env.smoke'), 'utf8'))
  tt.equal(loadConfig(smoke, noDotenv).NODE_ENV, 'production', 'deploy/env.smoke loads')
  const example = parseEnv(await readFile(join(repoRoot, 'deploy/compose.env.example'), 'utf8'))
  const error = configErrorOf(tt, { ...productionEnv, JWT_SECRETS: example.JWT_SECRETS, PAYMENTS_WEBHOOK_SECRETS: example.PAYMENTS_WEBHOOK_SECRETS })
  tt.same([...new Set(namedVariables(error))].sort(), ['JWT_SECRETS', 'PAYMENTS_WEBHOOK_SECRETS'], 'the example values, empty, are refused')
})

t.test('docker-compose.yml has no default for any secret: each is required with VAR:?message', async tt => {
  const compose = await readFile(join(repoRoot, 'docker-compose.yml'), 'utf8')
  tt.notMatch(compose, /change-me/i, 'no placeholder secret is shipped')
  for (const secret of ['JWT_SECRETS', 'PAYMENTS_WEBHOOK_SECRETS', 'POSTGRES_PASSWORD', 'ATRIUM_DB_PASSWORD']) {
    const uses = [...compose.matchAll(new RegExp(`\\$\\{${secret}(:?[-?+=])?([^}]*)\\}`, 'g'))]
    tt.ok(uses.length > 0, `${secret} is used`)
    for (const use of uses) tt.match(use[0], new RegExp(`^\\$\\{${secret}:\\?.+\\}$`), `${secret}: ${use[0]}`)
  }
})

t.test('outside production, development defaults fill what is missing', async tt => {
  const config = loadConfig({ NODE_ENV: 'development' }, noDotenv)
  tt.equal(config.DATABASE_URL, 'postgres://atrium_app@127.0.0.1:5432/atrium')
  tt.equal(config.DATABASE_OWNER_URL, 'postgres://postgres@127.0.0.1:5432/atrium')
  tt.equal(config.REDIS_URL, 'redis://127.0.0.1:6379')
  tt.equal(config.HOST, '127.0.0.1')
  tt.equal(config.PORT, 3000)
  tt.equal(config.ROLE, 'all')
  tt.equal(config.LOG_LEVEL, 'info')
  tt.ok(config.JWT_SECRETS.length > 0)

  tt.equal(loadConfig({}, noDotenv).NODE_ENV, 'development', 'NODE_ENV itself defaults to development')
  tt.equal(loadConfig({ NODE_ENV: 'test', REDIS_URL: 'redis://127.0.0.1:7777' }, noDotenv).REDIS_URL,
    'redis://127.0.0.1:7777', 'a given value wins over the default')
  const invalid = configErrorOf(tt, { NODE_ENV: 'development', PORT: '70000' })
  tt.same(namedVariables(invalid), ['PORT'], 'defaults do not hide invalid values')
})

t.test('a .env file is read outside production, under the environment, and ignored in production', async tt => {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-config-'))
  tt.teardown(() => rm(dir, { recursive: true, force: true }))
  const dotenv = join(dir, '.env')
  await writeFile(dotenv, 'PORT=4567\nLOG_LEVEL=debug\nREDIS_URL=redis://127.0.0.1:6390\n')

  const development = loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'warn' }, dotenv)
  tt.equal(development.PORT, 4567, 'read from the file')
  tt.equal(development.REDIS_URL, 'redis://127.0.0.1:6390', 'the file wins over a development default')
  tt.equal(development.LOG_LEVEL, 'warn', 'the environment wins over the file')

  const production = loadConfig(productionEnv, dotenv)
  tt.equal(production.PORT, 3000, 'production does not read the file')
  tt.equal(production.REDIS_URL, productionEnv.REDIS_URL)
})

interface Exit { code: number | null, signal: NodeJS.Signals | null, stderr: string, stdout: string }

/** Runs the real entry with exactly env (nothing inherited), killing it if it outlives the timeout. */
async function runServer (env: Environment): Promise<Exit> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8') })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  const timer = setTimeout(() => child.kill('SIGKILL'), SERVER_EXIT_TIMEOUT_MS)
  try {
    return await new Promise<Exit>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', (code, signal) => resolve({ code, signal, stderr, stdout }))
    })
  } finally {
    clearTimeout(timer)
  }
}

t.test('the server process exits non-zero naming each bad variable', async tt => {
  const exit = await runServer({
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    PORT: 'abc',
    DATABASE_URL: 'mysql://x',
    LOG_LEVEL: 'loud',
    JWT_SECRETS: 'development-only-jwt-secret-change-me-0123456789',
    PAYMENTS_WEBHOOK_SECRETS: 'a-webhook-secret-of-24-chars'
    // REDIS_URL missing
  })
  tt.equal(exit.signal, null, 'it exited by itself, not killed by the timeout')
  tt.not(exit.code, 0, 'non-zero exit code')
  tt.ok(exit.code !== null && exit.code > 0)
  for (const variable of ['PORT', 'DATABASE_URL', 'REDIS_URL', 'LOG_LEVEL', 'JWT_SECRETS']) {
    tt.match(exit.stderr, new RegExp(`^\\s+- ${variable}: `, 'm'), `stderr names ${variable}`)
  }
  tt.notMatch(exit.stderr, /PAYMENTS_WEBHOOK_SECRETS/, 'a valid variable is not named')
  tt.notMatch(exit.stdout, /listening/i, 'it never started serving')
})

t.test('LOG_PRETTY: 1 or 0 outside production; 1 is refused in production, whose logs are JSON', async tt => {
  tt.equal(loadConfig({ ...productionEnv, LOG_PRETTY: '0' }, noDotenv).LOG_PRETTY, '0', 'production may say 0')
  tt.same(namedVariables(configErrorOf(tt, { ...productionEnv, LOG_PRETTY: '1' })), ['LOG_PRETTY'])
  tt.equal(loadConfig({ NODE_ENV: 'development', LOG_PRETTY: '1' }, noDotenv).LOG_PRETTY, '1')
  tt.same(namedVariables(configErrorOf(tt, { NODE_ENV: 'development', LOG_PRETTY: 'yes' })), ['LOG_PRETTY'], 'only 1 or 0')
})
