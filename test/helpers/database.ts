import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createSql, quoteIdentifier, withDatabase } from '../../src/platform/db/client.ts'
import { listMigrations, migrate, migrationsDir, restrictDatabasePrivileges } from '../../src/platform/db/migrate.ts'

/** The cluster the tests use; its owner role creates and drops the test databases. */
export const serverUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
export const runtimeRole = 'atrium_app'
const TEMPLATE_LOCK_KEY = 4_711_2025

export interface TestDatabase {
  name: string
  ownerUrl: string
  runtimeUrl: string
  drop: () => Promise<void>
}

export function runtimeUrlFor (database: string): string {
  const url = new URL(withDatabase(serverUrl, database))
  url.username = runtimeRole
  url.password = ''
  return url.toString()
}

/** The runner decides ownership and privileges: a change to it rebuilds the template too. */
const runnerFile = fileURLToPath(new URL('../../src/platform/db/migrate.ts', import.meta.url))

async function migrationsHash (): Promise<string> {
  const hash = createHash('sha256')
  for (const file of await listMigrations()) {
    hash.update(file).update(await readFile(join(migrationsDir, file)))
  }
  hash.update(await readFile(runnerFile))
  return hash.digest('hex').slice(0, 12)
}

/**
 * A migrated template database, made once per set of migration files (name carries their hash)
 * under an advisory lock, so parallel test files wait for the first one to build it.
 */
async function templateDatabase (): Promise<string> {
  const name = `atrium_tpl_${await migrationsHash()}`
  const admin = createSql(serverUrl, { max: 1 })
  try {
    await admin.reserve().then(async conn => {
      try {
        await conn`select pg_advisory_lock(${TEMPLATE_LOCK_KEY})`
        const [exists] = await conn`select 1 as found from pg_database where datname = ${name}`
        if (!exists) {
          await conn.unsafe(`create database ${quoteIdentifier(name)}`)
          try {
            await migrate({ ownerUrl: withDatabase(serverUrl, name), runtimeUrl: runtimeUrlFor(name), statementTimeoutMs: 30_000 })
          } catch (error) {
            await conn.unsafe(`drop database ${quoteIdentifier(name)} with (force)`)
            throw error
          }
        }
      } finally {
        await conn`select pg_advisory_unlock(${TEMPLATE_LOCK_KEY})`
        conn.release()
      }
    })
  } finally {
    await admin.end()
  }
  return name
}

/** The URLs of a database on the test cluster, and how to drop it. */
function testDatabaseNamed (name: string): TestDatabase {
  return {
    name,
    ownerUrl: withDatabase(serverUrl, name),
    runtimeUrl: runtimeUrlFor(name),
    drop: async () => {
      const dropper = createSql(serverUrl, { max: 1 })
      try {
        await dropper.unsafe(`drop database if exists ${quoteIdentifier(name)} with (force)`)
      } finally {
        await dropper.end()
      }
    }
  }
}

/** A fresh database of the current schema, cloned from the template: fast, and the file's own. */
export async function createTestDatabase (): Promise<TestDatabase> {
  const template = await templateDatabase()
  const name = `atrium_test_${randomBytes(6).toString('hex')}`
  const admin = createSql(serverUrl, { max: 1 })
  try {
    await admin.unsafe(`create database ${quoteIdentifier(name)} template ${quoteIdentifier(template)}`)
    // the clone has the template's objects but the default database ACL (TEMP for PUBLIC)
    await restrictDatabasePrivileges(admin, name, runtimeRole)
  } finally {
    await admin.end()
  }
  return testDatabaseNamed(name)
}

/** An empty database (no migrations), for tests of the migration runner itself. */
export async function createEmptyDatabase (): Promise<TestDatabase> {
  const name = `atrium_empty_${randomBytes(6).toString('hex')}`
  const admin = createSql(serverUrl, { max: 1 })
  try {
    await admin.unsafe(`create database ${quoteIdentifier(name)}`)
  } finally {
    await admin.end()
  }
  return testDatabaseNamed(name)
}
