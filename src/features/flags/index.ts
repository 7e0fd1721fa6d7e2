/**
 * Feature flags: definitions, per-tenant evaluation and the admin API's service. The public entry
 * of the feature: other features, plugins and routes import from here.
 */
export * from './schemas.ts'
export type { FlagCaller } from './evaluate.ts'
export { FlagsService, type FlagInput, type FlagRecord } from './service.ts'
export { FlagStore } from './store.ts'
