import type { Config } from '../config.ts'
import { createMailer } from '../platform/mail-transport.ts'
import { JobRegistry } from '../platform/jobs/registry.ts'
import { registerArticleJobs } from './articles/index.ts'
import { registerBillingJobs } from './billing/index.ts'
import { registerLastSeenJobs } from './last-seen/index.ts'
import { registerPrivacyJobs } from './privacy/index.ts'

/**
 * Every job type of the domain, for the worker of `npm start` and ROLE=worker. Each feature with
 * jobs exports one register<Feature>Jobs(registry, deps) from its index and takes from deps what
 * its handlers need.
 */
export function domainJobs (config: Config): JobRegistry {
  const registry = new JobRegistry()
  const deps = { config, mailer: createMailer(config) }
  registerArticleJobs(registry, deps)
  registerBillingJobs(registry, deps)
  registerLastSeenJobs(registry, deps)
  registerPrivacyJobs(registry, deps)
  return registry
}
