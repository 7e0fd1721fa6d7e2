import { randomBytes } from 'node:crypto'
import t from 'tap'
import { createSql } from '../src/platform/db/client.ts'
import { spawnEntry } from './helpers/child.ts'
import { createTestDatabase } from './helpers/database.ts'
import { waitFor } from './helpers/wait.ts'

// The runner's advisory lock (src/platform/db/migrate.ts): holding it keeps a start-up in migrate.
const MIGRATION_LOCK_KEY = 4_711_2024
// bounds, not expectations: a child's start (tsx, connecting) and exit take seconds on a loaded machine
const START_WAIT_MS = 60_000
const EXIT_WAIT_MS = 30_000

const db = await createTestDatabase()
t.teardown(() => db.drop())
const admin = createSql(db.ownerUrl, { max: 2 })
t.teardown(() => admin.end())

const env = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'info',
  ROLE: 'api',
  PORT: '0',
  DATABASE_URL: db.runtimeUrl,
  DATABASE_OWNER_URL: db.ownerUrl,
  REDIS_PREFIX: `atrium-test:${randomBytes(4).toString('hex')}:`
}

/** the migration runner's sessions on this database */
const migrateSessions = async () => await admin<Array<{ waiting: boolean }>>`
  select wait_event_type = 'Lock' as waiting from pg_stat_activity
  where datname = ${db.name} and application_name = 'atrium-migrate'`

/**
 * Holds the migration lock on a connection of its own while `during` runs, so whatever starts
 * migrating waits inside its migration transaction; the lock is released afterwards.
 */
async function whileMigrationLocked (during: () => Promise<void>): Promise<void> {
  const holder = await admin.reserve()
  try {
    await holder`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`
    await during()
  } finally {
    await holder`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`
    holder.release()
  }
}

const waitUntilMigrateWaits = async () => await waitFor('migrate waiting for its lock', async () => (await migrateSessions()).some(s => s.waiting), START_WAIT_MS)

t.test('a SIGTERM while the server is still migrating stops it: exit 0, its migration transaction gone', async tt => {
  await whileMigrationLocked(async () => {
    const server = spawnEntry(tt, 'src/server.ts', env)
    await waitUntilMigrateWaits()
    server.kill('SIGTERM')
    const exit = await server.exitWithin(EXIT_WAIT_MS)
    tt.same(exit && { code: exit.code, signal: exit.signal }, { code: 0, signal: null }, `exits 0 on its own; stderr: ${server.stderr()}`)
    tt.ok(server.lines.some(line => line.msg === 'shutting down: readiness off' && line.signal === 'SIGTERM'), 'logs the shutdown')
    tt.notOk(server.lines.some(line => typeof line.msg === 'string' && line.msg.includes('listening on')), 'never started serving')
    await waitFor('the migration session to end', async () => (await migrateSessions()).length === 0, EXIT_WAIT_MS)
  })
})

t.test('migrate-cli on SIGTERM: rolls back, says so, exits 128 + 15', async tt => {
  await whileMigrationLocked(async () => {
    const cli = spawnEntry(tt, 'src/platform/db/migrate-cli.ts', env)
    await waitUntilMigrateWaits()
    cli.kill('SIGTERM')
    const exit = await cli.exitWithin(EXIT_WAIT_MS)
    tt.same(exit && { code: exit.code, signal: exit.signal }, { code: 143, signal: null }, 'exits by itself with 143')
    tt.match(cli.stderr(), /^migrate: SIGTERM: interrupted: nothing of this run was applied \(its transaction rolled back\)\n$/)
    await waitFor('the migration session to end', async () => (await migrateSessions()).length === 0, EXIT_WAIT_MS)
  })
})
