import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { createLogger } from '../../../src/platform/logger.ts'
import { createRedis, type Redis } from '../../../src/platform/redis.ts'
import { domainJobs } from '../../../src/features/jobs.ts'
import { flushLastSeenJob } from '../../../src/features/last-seen/jobs.ts'
import { FLUSH_LAST_SEEN_JOB } from '../../../src/features/last-seen/job-names.ts'
import { JobRegistry } from '../../../src/platform/jobs/registry.ts'
import { flushLastSeen, lastSeenKey, LastSeenRecorder } from '../../../src/features/last-seen/service.ts'
import { buildTestApp, type Teardown } from '../../helpers/app.ts'
import { serviceDatabase, startTestWorker } from '../../helpers/jobs.ts'
import { waitFor } from '../../helpers/wait.ts'
import { startPrivateRedis } from '../../helpers/redis-server.ts'
import { withSql } from '../../helpers/sql.ts'
import { bearer, login, registerUser } from '../../helpers/users.ts'

const MINUTE_MS = 60_000

/** A Redis connection of the test's own, closed when it ends. */
function inspector (tt: Teardown): Redis {
  const redis = createRedis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', { connectionName: 'atrium-test-last-seen' })
  redis.on('error', () => {})
  tt.teardown(() => { redis.disconnect() })
  return redis
}

/** Waits, when the clock minute is about to turn, for the next one: the test needs a few seconds inside one minute. */
async function awayFromMinuteEnd (): Promise<void> {
  const left = MINUTE_MS - (Date.now() % MINUTE_MS)
  if (left < 5_000) await sleep(left + 50)
}

const { app, db, config } = await buildTestApp(t)
const key = lastSeenKey(config.REDIS_PREFIX)
const redis = inspector(t)
t.teardown(async () => { await redis.del(key) })
const { database } = serviceDatabase(t, db)
const flush = async () => await flushLastSeen({ redis, db: database, key })

interface UserRow { last_seen_at: Date | null, version: string }
const userRow = async (id: string): Promise<UserRow | undefined> => await withSql(db.ownerUrl, async sql => {
  const [row] = await sql<UserRow[]>`select last_seen_at, xmin::text as version from users where id = ${id}`
  return row
})

t.test('authenticated requests record last seen in Redis once a minute, and the flush moves it to users', async tt => {
  const user = await registerUser(app)
  const { access_token: token } = await login(app, user.email)
  tt.equal((await userRow(user.id))?.last_seen_at, null, 'never seen before')

  const writes: string[][] = []
  const monitor = await redis.monitor()
  tt.teardown(() => { monitor.disconnect() })
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args[0]?.toLowerCase() === 'zadd' && args[1] === key) writes.push(args)
  })

  await awayFromMinuteEnd()
  const started = Math.floor(Date.now() / 1000)
  for (let i = 0; i < 5; i++) tt.equal((await app.inject({ method: 'GET', url: '/v1/me', headers: bearer(token) })).statusCode, 200)
  const finished = Math.ceil(Date.now() / 1000)
  await waitFor('the write reached Redis', () => writes.length > 0)
  await sleep(300) // a second write, if one were sent, would have arrived by now
  tt.same(writes, [['zadd', key, 'GT', writes[0]?.[3] ?? '', user.id]], 'five requests in one minute: one ZADD')
  const score = Number(await redis.zscore(key, user.id))
  tt.ok(score >= started && score <= finished, 'scored with the epoch seconds of the request')
  tt.equal((await userRow(user.id))?.last_seen_at, null, 'no request wrote to the database')

  tt.same(await flush(), { entries: 1, updated: 1 }, 'the flush takes the entry and updates the user')
  const flushed = await userRow(user.id)
  tt.equal(flushed?.last_seen_at?.getTime(), score * 1000, 'users.last_seen_at is the recorded time')
  tt.equal(await redis.zcard(key), 0, 'the flushed entry left Redis')

  tt.same(await flush(), { entries: 0, updated: 0 }, 'a second flush with nothing new finds nothing')
  tt.same(await userRow(user.id), flushed, 'and leaves the row as it was (not even a new row version)')

  await redis.zadd(key, score - 600, user.id)
  tt.same(await flush(), { entries: 1, updated: 0 }, 'an older time is taken but changes nothing')
  tt.same(await userRow(user.id), flushed, 'last seen never moves back')
  tt.equal(await redis.zcard(key), 0)
})

t.test('the recorder writes again when the minute turns, and a later write is never undone', async tt => {
  const userId = '01890a5d-ac96-774b-bcce-b302099a8057'
  const testKey = `${key}:recorder`
  tt.teardown(async () => { await redis.del(testKey) })
  const minute = 1_700_000_040_000 // a minute's start
  let now = minute + 40_000
  const recorder = new LastSeenRecorder(redis, testKey, createLogger({ LOG_LEVEL: 'silent' }), () => now)
  const score = async () => Number(await redis.zscore(testKey, userId))

  recorder.seen(userId)
  await waitFor('the first write', async () => await score() === 1_700_000_080)
  now += 15_000
  recorder.seen(userId)
  await sleep(100)
  tt.equal(await score(), 1_700_000_080, 'the same minute: nothing written')
  now += 10_000 // 5 s into the next minute
  recorder.seen(userId)
  await waitFor('the next minute\'s write', async () => await score() === 1_700_000_105)
  tt.pass('the next minute: written again')

  const late = new LastSeenRecorder(redis, testKey, createLogger({ LOG_LEVEL: 'silent' }), () => 1_700_000_000_000)
  late.seen(userId)
  await sleep(100)
  tt.equal(await score(), 1_700_000_105, 'another instance\'s earlier time does not overwrite a later one')
})

t.test('a user seen again while a flush runs keeps the newer time for the next flush', async tt => {
  const user = await registerUser(app)
  const first = 1_700_000_000
  await redis.zadd(key, first, user.id)

  // hold the user's row so the flush stops inside its UPDATE, after reading Redis
  let locked: () => void = () => {}
  const holding = new Promise<void>(resolve => { locked = resolve })
  const released = withSql(db.ownerUrl, async sql => await sql.begin(async tx => {
    await tx`select 1 from users where id = ${user.id} for update`
    locked()
    await waitFor('the flush waits on the row', async () => {
      await tx`select pg_stat_clear_snapshot()` // a transaction otherwise sees one snapshot of the statistics
      const [waiting] = await tx`select 1 from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock' and query like '%update users u set last_seen_at%'`
      return waiting !== undefined
    })
    await redis.zadd(key, first + 60, user.id)
  }))
  await holding
  const flushing = flush()
  await released
  tt.same(await flushing, { entries: 1, updated: 1 })
  tt.equal((await userRow(user.id))?.last_seen_at?.getTime(), first * 1000, 'the flush wrote what it read')
  tt.equal(Number(await redis.zscore(key, user.id)), first + 60, 'the newer time stayed in Redis')

  tt.same(await flush(), { entries: 1, updated: 1 })
  tt.equal((await userRow(user.id))?.last_seen_at?.getTime(), (first + 60) * 1000, 'and the next flush moved it')
})

t.test('requests still succeed with Redis away; nothing is recorded', async tt => {
  const privateRedis = await startPrivateRedis(tt)
  const { app: isolated } = await buildTestApp(tt, { env: { REDIS_URL: privateRedis.url } })
  const user = await registerUser(isolated)
  const { access_token: token } = await login(isolated, user.email)
  await privateRedis.stop()
  for (let i = 0; i < 3; i++) {
    tt.equal((await isolated.inject({ method: 'GET', url: '/v1/me', headers: bearer(token) })).statusCode, 200)
  }
})

t.test('the worker flushes on a repeat interval from LAST_SEEN_FLUSH_MS', async tt => {
  tt.equal(domainJobs(config).get(FLUSH_LAST_SEEN_JOB)?.repeatEveryMs, 60_000, 'the catalog registers it, every minute by default')

  const env = { LAST_SEEN_FLUSH_MS: '200' }
  const { app: fast, db: fastDb, config: fastConfig } = await buildTestApp(tt, { env })
  const fastKey = lastSeenKey(fastConfig.REDIS_PREFIX)
  tt.teardown(async () => { await redis.del(fastKey) })
  const { queues } = await startTestWorker(tt, fastDb, new JobRegistry().register(flushLastSeenJob(fastConfig)), { config: fastConfig })
  const scheduler = await waitFor('the job scheduler exists', () => queues.get('maintenance').getJobScheduler(FLUSH_LAST_SEEN_JOB))
  tt.equal(Number(scheduler.every), 200, 'one scheduler, at the configured interval')

  const user = await registerUser(fast)
  const { access_token: token } = await login(fast, user.email)
  tt.equal((await fast.inject({ method: 'GET', url: '/v1/me', headers: bearer(token) })).statusCode, 200)
  const seen = await waitFor('the worker flushed last seen', async () => await withSql(fastDb.ownerUrl, async sql => {
    const [row] = await sql<Array<{ last_seen_at: Date | null }>>`select last_seen_at from users where id = ${user.id}`
    return row?.last_seen_at ?? undefined
  }))
  tt.ok(Math.abs(seen.getTime() - Date.now()) < 60_000, 'with the time of the request')
  await waitFor('Redis was emptied', async () => await redis.zcard(fastKey) === 0)
})
