import { resolve } from 'node:path'

export interface BenchSettings {
  /** measured seconds per run */
  durationS: number
  /** seconds of load before each measured run, thrown away */
  warmupS: number
  /** rounds; each runs every scenario once, so each ratio gets this many pairs */
  pairs: number
  connections: number
  /** substrings of scenario names to run (`=name`: that name exactly); empty: all */
  only: string[]
  /** another checkout, built: every selected Atrium scenario runs on it too (bench/compare.ts) */
  compare: string | undefined
}

/** A failure its message explains fully (no stack trace needed). */
export class BenchError extends Error {}

function positiveInteger (env: Record<string, string | undefined>, name: string, fallback: number, allowZero = false): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1) || value > 3_600) {
    throw new BenchError(`${name}: expected a whole number of ${allowZero ? '0' : '1'} to 3600, got '${raw}'`)
  }
  return value
}

/**
 * BENCH_DURATION (s, 10), BENCH_WARMUP (s, 1), BENCH_PAIRS (3), BENCH_ONLY (comma-separated name parts),
 * BENCH_COMPARE (a directory: another checkout of Atrium, built).
 * One second of warm-up (thousands of requests: JIT and caches are warm) keeps the full suite, build
 * included, under the 10 minutes issue 9 allows.
 */
export function loadSettings (env: Record<string, string | undefined> = process.env): BenchSettings {
  return {
    durationS: positiveInteger(env, 'BENCH_DURATION', 10),
    warmupS: positiveInteger(env, 'BENCH_WARMUP', 1, true),
    pairs: positiveInteger(env, 'BENCH_PAIRS', 3),
    connections: 50,
    only: (env.BENCH_ONLY ?? '').split(',').map(s => s.trim()).filter(s => s !== ''),
    compare: env.BENCH_COMPARE === undefined || env.BENCH_COMPARE === '' ? undefined : resolve(env.BENCH_COMPARE)
  }
}
