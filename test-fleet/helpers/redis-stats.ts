import { Redis } from 'ioredis'

/** Calls per Redis command since the server started (INFO commandstats), without INFO's own. */
export async function commandCalls (url: string): Promise<Map<string, number>> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    const text = await redis.info('commandstats')
    const calls = new Map<string, number>()
    for (const [, name, count] of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (name !== 'info' && name !== 'client|setname' && name !== 'client|setinfo' && name !== 'select') calls.set(name!, Number(count))
    }
    return calls
  } finally {
    redis.disconnect()
  }
}

/** What was called between two snapshots, by command, most first. */
export function callsBetween (before: Map<string, number>, after: Map<string, number>): Array<[string, number]> {
  return [...after].map(([name, n]): [string, number] => [name, n - (before.get(name) ?? 0)]).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1])
}

export const total = (calls: ReadonlyArray<[string, number]>): number => calls.reduce((sum, [, n]) => sum + n, 0)
