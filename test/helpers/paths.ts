import { fileURLToPath } from 'node:url'

/** The repository's root folder (with a trailing slash): the working directory of child processes. */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
