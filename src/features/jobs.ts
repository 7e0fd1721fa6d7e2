import { registerBillingJobs } from './billing/index.ts'
import type { Config } from '../config.ts'
import { createMailer } from '../platform/mail-transport.ts'
import { registerPrivacyJobs } from './privacy/index.ts'
import { flushLastSeenJob } from './last-seen/index.ts'
import { publishArticleJob } from './articles/index.ts'
import { JobRegistry } from '../platform/jobs/registry.ts'

/** Every job type of the domain, for the worker of `npm start` and ROLE=worker. Features register theirs here. */
export function domainJobs (config: Config): JobRegistry {
  const registry = new JobRegistry()
  const mailer = createMailer(config)
  registerPrivacyJobs(registry, config, { mailer })
  registerBillingJobs(registry, { mailer })
  registry.register(publishArticleJob)
  registry.register(flushLastSeenJob(config))
  return registry
}
