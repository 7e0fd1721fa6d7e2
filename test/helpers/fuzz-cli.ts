import { spawnSync } from 'node:child_process'
import { parseArgs } from 'node:util'

/**
 * `npm run fuzz -- --runs N [--seed S]`: the fuzz suite alone (test/fuzz.test.ts), with as many
 * generated requests as asked and without tap's per-file timeout, which is sized for CI's count.
 */
const { values } = parseArgs({ options: { runs: { type: 'string', default: '30000' }, seed: { type: 'string' } } })
const integer = (name: string, value: string) => {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    console.error(`fuzz: --${name} takes a non-negative integer, not ${JSON.stringify(value)}`)
    process.exit(2)
  }
  return value
}
const env: NodeJS.ProcessEnv = { ...process.env, FUZZ_RUNS: integer('runs', values.runs) }
if (values.seed !== undefined) env.FUZZ_SEED = integer('seed', values.seed)

const result = spawnSync('tap', ['--timeout=0', 'test/fuzz.test.ts'], { stdio: 'inherit', env })
if (result.error !== undefined) throw result.error
process.exit(result.status ?? 1)
