import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'

/**
 * scripts/patch-postgres.mjs patches the driver at install time (postinstall, and the Dockerfile).
 * An install that skipped it (`npm ci --ignore-scripts`) would run the known-bad driver: this says so.
 */
const driverRoot = join(dirname(createRequire(import.meta.url).resolve('postgres')), '..', '..')

interface DriverQueue<T> {
  readonly length: number
  push: (x: T) => T
  shift: () => T | undefined
  remove: (x: T) => T | null
}

t.test('every build of the driver carries both patches', async tt => {
  for (const flavour of ['src', 'cjs/src', 'cf/src']) {
    tt.match(readFileSync(join(driverRoot, flavour, 'connection.js'), 'utf8'), 'atrium patch: porsager/postgres#1208', `${flavour}/connection.js`)
    tt.match(readFileSync(join(driverRoot, flavour, 'queue.js'), 'utf8'), 'atrium patch: saturated pool queue', `${flavour}/queue.js`)
  }
})

t.test("the pool's queue still takes in order and removes any entry, through many cycles", async tt => {
  const { default: Queue } = await import(pathToFileURL(join(driverRoot, 'src', 'queue.js')).href) as { default: <T>() => DriverQueue<T> }
  const queue = Queue<string>()
  const live = ['a', 'b', 'c']
  for (const x of live) queue.push(x)
  // a saturated pool: take the head, give it work, put it back, thousands of times
  for (let i = 0; i < 10_000; i++) queue.push(queue.shift() as string)
  tt.equal(queue.length, 3, 'after 10,000 rotations: b, c, a')
  tt.equal(queue.remove('b'), 'b', 'an entry behind the taken ones is found')
  tt.equal(queue.remove('b'), null, 'and only once')
  tt.equal(queue.remove('zzz'), null)
  tt.equal(queue.length, 2)
  tt.same([queue.shift(), queue.shift()], ['c', 'a'], 'the rest in order')
  tt.equal(queue.length, 0)
  tt.equal(queue.shift(), undefined)

  queue.push('d')
  queue.push('e')
  queue.shift()
  tt.equal(queue.remove('e'), 'e', 'removing the last live entry empties the queue')
  tt.equal(queue.length, 0)
  queue.push('f')
  tt.equal(queue.shift(), 'f', 'and it works from empty again')
})
