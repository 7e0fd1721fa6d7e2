import { JobRegistry } from './registry.ts'

/** Every job type of the domain, for the worker of `npm start` and ROLE=worker. Features register theirs here. */
export function domainJobs (): JobRegistry {
  return new JobRegistry()
}
