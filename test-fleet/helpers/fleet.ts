import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { productionEnv, type Teardown } from '../../test/helpers/app.ts'
import { spawnNode, type ChildProcessHandle, type LogLine } from '../../test/helpers/child.ts'
import { createTestDatabase, type TestDatabase } from '../../test/helpers/database.ts'
import { findNginx, startNginx, type RunningNginx } from '../../test/helpers/nginx.ts'
import { freeLoopbackPort } from '../../test/helpers/service-process.ts'
import { shutdownRedisIfOrphaned } from '../../test/helpers/orphans.ts'
import { repoRoot } from '../../test/helpers/paths.ts'
import { startPrivateRedis, type PrivateRedis } from '../../test/helpers/redis-server.ts'
import { waitFor } from '../../test/helpers/wait.ts'
import { send } from './client.ts'
import { startPrivatePgbouncer, type PrivatePgbouncer } from './pgbouncer.ts'

/** The compiled entry every Atrium process of the fleet runs, as the image does. */
const SERVER_ENTRY = 'dist/src/server.js'
/** generous: four processes start at once on 2 shared cores */
const START_TIMEOUT_MS = 60_000

export const isMessage = (prefix: string) => (line: LogLine): boolean => typeof line.msg === 'string' && line.msg.startsWith(prefix)

export interface FleetOptions {
  /** SHUTDOWN_DELAY_MS of the APIs (compose: 5000) */
  shutdownDelayMs?: number
  /** AUTH_RATE_LIMIT_PER_IP: every request through nginx comes from 127.0.0.1 */
  authLimitPerIp?: number
  /** more settings for every process */
  env?: Record<string, string>
}

/** One Atrium process of the fleet: started, stopped, started again on the same port. */
export interface Instance {
  readonly name: string
  /** the API's own port (0 for a worker) */
  readonly port: number
  /** http://127.0.0.1:<port>, straight to this API, past nginx */
  readonly url: string
  /** the running process (a new one after each start) */
  readonly process: ChildProcessHandle
  /** Date.now() of the last start */
  readonly startedAt: number
  /** starts the process (again), resolving once it is ready: /readyz 200, or "worker started" */
  start: () => Promise<void>
}

export interface Fleet {
  readonly db: TestDatabase
  readonly redis: PrivateRedis
  readonly pgbouncer: PrivatePgbouncer
  readonly apis: readonly [Instance, Instance]
  readonly workers: readonly [Instance, Instance]
  /** a real nginx running deploy/nginx.conf with both APIs in its upstream */
  readonly nginx: RunningNginx
}

/**
 * The fleet of issue 17 on this machine, from the compiled build (`npm run build`): a database of
 * its own on the local PostgreSQL, a private PgBouncer (transaction mode) in front of it, a
 * private Redis, two API and two worker processes in production mode connected through PgBouncer
 * with `DATABASE_PREPARE=false` (the relays' LISTEN straight to PostgreSQL), and nginx with both
 * APIs in one upstream. Everything is killed and removed when the test ends, even on failure.
 */
export async function startFleet (t: Teardown, options: FleetOptions = {}): Promise<Fleet> {
  if (!existsSync(join(repoRoot, SERVER_ENTRY))) throw new Error(`${SERVER_ENTRY} is missing: npm run test:fleet builds it (npm run build)`)
  const nginxBinary = findNginx()
  if (nginxBinary === undefined) throw new Error('nginx is not installed (.ci/run installs it)')

  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const redis = await startPrivateRedis(t)
  shutdownRedisIfOrphaned(t, redis.port)
  const direct = new URL(db.runtimeUrl)
  const pgbouncer = await startPrivatePgbouncer(t, {
    postgresPort: Number(direct.port === '' ? 5432 : direct.port), database: db.name, user: decodeURIComponent(direct.username)
  })

  const env = productionEnv({ database: pgbouncer.runtimeUrl, redis: redis.url }, 'atrium-fleet', {
    DATABASE_PREPARE: 'false',
    DATABASE_LISTEN_URL: db.runtimeUrl,
    TRUST_PROXY: '127.0.0.1',
    AUTH_RATE_LIMIT_PER_IP: String(options.authLimitPerIp ?? 10_000),
    SHUTDOWN_DELAY_MS: String(options.shutdownDelayMs ?? 5_000),
    SHUTDOWN_GRACE_MS: '10000',
    ...options.env
  })

  const instance = (name: string, role: 'api' | 'worker', port: number): Instance => {
    let current: ChildProcessHandle | undefined
    let startedAt = 0
    const url = `http://127.0.0.1:${port}`
    return {
      name,
      port,
      url,
      get process () {
        if (current === undefined) throw new Error(`${name} was never started`)
        return current
      },
      get startedAt () { return startedAt },
      start: async () => {
        startedAt = Date.now()
        const child = spawnNode(t, [SERVER_ENTRY], { ...env, ROLE: role, PORT: String(port) }, START_TIMEOUT_MS)
        current = child
        if (role === 'worker') {
          await child.waitForLine('worker started', isMessage('worker started'))
          return
        }
        await child.waitForLine('listening', isMessage('Atrium API listening on'))
        await waitFor(`${name} /readyz 200`, async () => (await send(`${url}/readyz`, { timeoutMs: 2_000 })).status === 200, START_TIMEOUT_MS, 100)
      }
    }
  }

  const [apiPortA, apiPortB] = [await freeLoopbackPort(), await freeLoopbackPort()]
  const apis = [instance('api-1', 'api', apiPortA), instance('api-2', 'api', apiPortB)] as const
  const workers = [instance('worker-1', 'worker', 0), instance('worker-2', 'worker', 0)] as const
  await Promise.all([...apis, ...workers].map(async i => await i.start()))

  // deploy/nginx.conf as it is, but for the per-client rate: every client here is 127.0.0.1,
  // and the load tests send far more than the 20 a second one real client may
  const nginx = await startNginx(t, nginxBinary, [apiPortA, apiPortB],
    config => {
      if (!/rate=20r\/s;/.test(config)) throw new Error('deploy/nginx.conf: no rate=20r/s to raise for the fleet')
      return config.replace(/rate=20r\/s;/, 'rate=100000r/s;')
    })
  return { db, redis, pgbouncer, apis, workers, nginx }
}

/** Which API served each request of the access log, by upstream address. */
export function servedBy (fleet: Fleet, upstreamAddr: string): string | undefined {
  return fleet.apis.find(api => upstreamAddr.endsWith(`:${api.port}`))?.name
}
