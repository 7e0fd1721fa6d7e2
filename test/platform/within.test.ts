import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { within, withinOr } from '../../src/platform/within.ts'

/** A promise the test settles when it chooses. */
function controlled<T> () {
  const settle: { resolve?: (value: T) => void, reject?: (error: Error) => void } = {}
  const promise = new Promise<T>((resolve, reject) => { Object.assign(settle, { resolve, reject }) })
  return { promise, resolve: (value: T) => settle.resolve?.(value), reject: (error: Error) => settle.reject?.(error) }
}

const timers = (): number => process.getActiveResourcesInfo().filter(kind => kind === 'Timeout').length

t.test('withinOr: the promise in time gives its value, and clears the timer', async tt => {
  const before = timers()
  tt.equal(await withinOr(1_000, 'late', Promise.resolve('ok')), 'ok')
  tt.equal(timers(), before, 'no timer left behind')
})

t.test('withinOr: a rejection in time rejects, and clears the timer', async tt => {
  const before = timers()
  await tt.rejects(withinOr(1_000, 'late', Promise.reject(new Error('away'))), { message: 'away' })
  tt.equal(timers(), before, 'no timer left behind')
})

t.test('withinOr: too slow gives the fallback; a rejection after it is absorbed', async tt => {
  const slow = controlled<string>()
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  tt.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  tt.equal(await withinOr(20, 'late', slow.promise), 'late')
  slow.reject(new Error('failed after the timeout'))
  await sleep(20)
  tt.same(unhandled, [], 'no unhandled rejection')
})

t.test('within: too slow rejects naming what timed out', async tt => {
  const slow = controlled<string>()
  await tt.rejects(within(20, 'queue counts', slow.promise), { message: 'queue counts timed out after 20 ms' })
  slow.resolve('too late')
})

t.test('within: in time gives the value or the rejection as they are', async tt => {
  tt.equal(await within(1_000, 'probe', Promise.resolve(7)), 7)
  await tt.rejects(within(1_000, 'probe', Promise.reject(new Error('away'))), { message: 'away' })
})
