import fp from 'fastify-plugin'
import type { FastifyInstance, RouteOptions } from 'fastify'
import { withinOr } from '../src/platform/within.ts'
import { FLAG_KEY_PATTERN, type FlagCaller, type FlagInput, type FlagRecord, FlagsService, FlagStore } from '../src/features/flags/index.ts'

export interface FeatureFlags {
  /** from memory: no database or Redis round trip */
  isEnabled: (key: string, caller: FlagCaller) => boolean
  /** every flag the caller may know of (internal_only ones for staff only), from memory */
  all: (caller: FlagCaller) => Record<string, boolean>
  /** the stored flags, ordered by key (staff administration) */
  list: (limit: number, cursor?: string) => Promise<{ data: FlagRecord[], next_cursor: string | null }>
  /** creates or replaces a flag; this instance serves the new value once it returns, the others within seconds */
  put: (key: string, input: FlagInput) => Promise<FlagRecord>
}

declare module 'fastify' {
  interface FastifyInstance {
    flags: FeatureFlags
  }
  interface FastifyContextConfig {
    /** the route exists only for callers the flag is on for (else 403 feature_not_enabled, see plugins/permissions.ts) */
    feature?: string
  }
}

/** The safety net behind pub/sub: a missed message costs at most this long. */
const RELOAD_INTERVAL_MS = 30_000
/** After a failed reload (database away), try again sooner. */
const RETRY_INTERVAL_MS = 2_000
/** How long start-up waits for the first load before going on without it. */
const START_WAIT_MS = 5_000
const flagKey = new RegExp(FLAG_KEY_PATTERN)

/**
 * Feature flags held in memory on every instance. All flags are loaded at start, again on every
 * `flags` invalidation (published after a change commits, on any instance), after the invalidation
 * subscriber reconnects (messages may have been missed), and every 30 s. Evaluation only reads the
 * current snapshot. A failed reload keeps the previous flags and is retried; if the first load fails
 * or is slow, the app starts with every flag off (and says so in the log) rather than not at all.
 */
async function featureFlagsPlugin (app: FastifyInstance): Promise<void> {
  const service = new FlagsService(app.db, app.invalidation)
  const store = new FlagStore(() => service.loadAll())
  let timer: NodeJS.Timeout | undefined
  let closing = false

  async function reload (reason: string): Promise<boolean> {
    try {
      await store.refresh()
      return true
    } catch (error) {
      app.log.warn({ err: { message: (error as Error).message }, reason }, 'feature flags: reload failed, keeping the previous flags')
      return false
    }
  }

  function scheduleReload (delayMs: number): void {
    if (closing) return
    timer = setTimeout(() => {
      // reload never rejects: a failed load is logged and answers false
      void reload('periodic').then(ok => { scheduleReload(ok ? RELOAD_INTERVAL_MS : RETRY_INTERVAL_MS) })
    }, delayMs)
    timer.unref()
  }

  app.addHook('onRoute', (route: RouteOptions) => {
    const feature = route.config?.feature
    if (feature !== undefined && !flagKey.test(feature)) {
      throw new Error(`${String(route.method)} ${route.url}: config.feature ${feature} is not a flag key`)
    }
  })

  app.invalidation.on('flags', () => { void reload('invalidation') })
  app.invalidation.onResync(() => { void reload('resync') })

  app.decorate('flags', {
    isEnabled: (key: string, caller: FlagCaller) => store.isEnabled(key, caller),
    all: (caller: FlagCaller) => store.all(caller),
    list: async (limit: number, cursor?: string) => service.list(limit, cursor),
    async put (key: string, input: FlagInput) {
      const change = await service.put(key, input)
      if (change.action !== null) {
        app.log.info({ flag: key, action: change.action, changes: change.changes, audited_tenants: change.auditedTenants.length }, 'feature flag changed')
        await reload('change')
      }
      return change.flag
    }
  } satisfies FeatureFlags)

  // Start-up waits for the first load, but only so long: a slow or absent database must neither
  // stall the app past its plugin timeout nor stop it; the load then lands when it completes.
  const firstLoad = reload('start')
  const loadedInTime = await withinOr(START_WAIT_MS, false, firstLoad)
  if (!loadedInTime) app.log.warn('feature flags: not loaded yet at start, every flag is off until a load succeeds')
  void firstLoad.then(ok => { scheduleReload(ok ? RELOAD_INTERVAL_MS : RETRY_INTERVAL_MS) })

  app.addHook('onClose', async () => {
    closing = true
    clearTimeout(timer)
    await store.idle()
  })
}

export default fp(featureFlagsPlugin, {
  name: 'feature-flags',
  fastify: '5.x',
  dependencies: ['postgres', 'invalidation', 'tenancy', 'auth']
})
