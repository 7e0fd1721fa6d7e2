import t from 'tap'
import { CoalescedLoads } from '../../src/platform/coalesced-loads.ts'

/** A load the test finishes when it chooses, counting how often it was started. */
function controlledLoader<V> () {
  const started: Array<{ resolve: (value: V) => void, reject: (error: Error) => void }> = []
  const loader = () => new Promise<V>((resolve, reject) => { started.push({ resolve, reject }) })
  return { loader, started }
}

t.test('concurrent misses share one load, and its value is stored once', async tt => {
  const loads = new CoalescedLoads<string, number>()
  const { loader, started } = controlledLoader<number>()
  const stored: number[] = []
  const answers = Promise.all([1, 2, 3].map(() => loads.load('k', loader, value => { stored.push(value) })))
  tt.equal(started.length, 1, 'one load for three callers')
  started[0]!.resolve(7)
  tt.same(await answers, [7, 7, 7])
  tt.same(stored, [7])
})

t.test('a failed load reaches every caller, stores nothing, and the next miss loads again', async tt => {
  const loads = new CoalescedLoads<string, number>()
  const { loader, started } = controlledLoader<number>()
  const stored: number[] = []
  const store = (value: number) => { stored.push(value) }
  const answers = [loads.load('k', loader, store), loads.load('k', loader, store)]
  started[0]!.reject(new Error('database away'))
  for (const answer of answers) await tt.rejects(answer, { message: 'database away' })
  tt.same(stored, [])

  const retry = loads.load('k', loader, store)
  tt.equal(started.length, 2, 'a new load, not the failed one')
  started[1]!.resolve(8)
  tt.equal(await retry, 8)
  tt.same(stored, [8])
})

t.test('a load running across an invalidation answers its callers but is not stored', async tt => {
  const loads = new CoalescedLoads<string, number>()
  const { loader, started } = controlledLoader<number>()
  const stored: number[] = []
  const store = (value: number) => { stored.push(value) }
  const stale = loads.load('k', loader, store)
  loads.invalidate()
  const fresh = loads.load('k', loader, store)
  tt.equal(started.length, 2, 'a request after the invalidation does not join the stale load')
  started[0]!.resolve(1)
  started[1]!.resolve(2)
  tt.equal(await stale, 1)
  tt.equal(await fresh, 2)
  tt.same(stored, [2], 'only the load begun after the invalidation is stored')
})
