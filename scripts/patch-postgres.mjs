// Patches postgres.js 3.4.9 (the latest release) where it fails Atrium, until upstream releases fixes.
// Each patch is idempotent and fails loudly if the driver's code is not the code it knows, so
// whoever upgrades the driver checks whether the fix landed upstream and drops that patch.
// Run by `postinstall` and by the Dockerfile (which installs with --ignore-scripts).
//
// 1. Crash on a closed connection (porsager/postgres#1208, #1154): when a connection closes while a
//    transaction is open, begin() writes its ROLLBACK from a setImmediate after the socket is gone,
//    and the TypeError ("reading 'write'") kills the process. Found by the fault tests
//    (test-faults/postgres-stop.test.ts): PostgreSQL stopping under write load crashed the API. The
//    guard settles the write as CONNECTION_CLOSED instead (a catchable error, so the request answers
//    503), and a closed connection forgets its pending write, so it cannot stay "poisoned" after a
//    reconnect.
// 2. The pool slows down the longer it stays saturated: its connection queues mark taken entries
//    as holes and reset only once emptied by taking, which a saturated pool never does, so every
//    connection move searches a longer array. 50 clients of a 10-connection pool running `select 1`
//    went from 45k to 17k queries/s within 8 s; patched, they hold 95-100k. Found in a CPU profile
//    of the bench (`Queue.remove`: 17 µs of a 53 µs request on the bare baseline). The search now
//    starts after the holes, and a queue emptied by a removal resets too.
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)
const root = join(dirname(require.resolve('postgres')), '..', '..')
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

const closedConnection = {
  name: 'porsager/postgres#1208',
  file: 'connection.js',
  marker: '/* atrium patch: porsager/postgres#1208 */',
  apply (text) {
    const unguarded = `  function nextWrite(fn) {
    const x = socket.write(chunk, fn)`
    const guarded = `  function nextWrite(fn) {
    ${this.marker}
    if (!socket) {
      nextWriteTimer !== null && clearImmediate(nextWriteTimer)
      chunk = nextWriteTimer = null
      error(Errors.connection('CONNECTION_CLOSED', options))
      return false
    }
    const x = socket.write(chunk, fn)`
    // terminate() and closed(): the two lines that cancel the pending write without forgetting it
    const teardown = '    clearImmediate(nextWriteTimer)\n'
    const teardownFixed = '    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n'
    if (text.split(unguarded).length !== 2 || text.split(teardown).length !== 3) return undefined
    return text.replace(unguarded, guarded).replaceAll(teardown, teardownFixed)
  }
}

const saturatedQueue = {
  name: 'saturated pool queue',
  file: 'queue.js',
  marker: '/* atrium patch: saturated pool queue */',
  apply (text) {
    const scanFromStart = `    remove: (x) => {
      const index = xs.indexOf(x)
      return index === -1
        ? null
        : (xs.splice(index, 1), x)
    },`
    const scanLiveEntries = `    remove: (x) => {
      ${this.marker}
      const at = xs.indexOf(x, index)
      if (at === -1)
        return null
      xs.splice(at, 1)
      if (index === xs.length) {
        index = 0
        xs = []
      }
      return x
    },`
    if (text.split(scanFromStart).length !== 2) return undefined
    return text.replace(scanFromStart, scanLiveEntries)
  }
}

let patched = 0
for (const patch of [closedConnection, saturatedQueue]) {
  for (const flavour of ['src', 'cjs/src', 'cf/src']) {
    const file = join(root, flavour, patch.file)
    const text = readFileSync(file, 'utf8')
    if (text.includes(patch.marker)) continue
    const fixed = patch.apply(text)
    if (fixed === undefined) {
      process.stderr.write(`patch-postgres: postgres ${version} ${flavour}/${patch.file} is not the code this patch knows; ` +
        `check whether "${patch.name}" is fixed upstream and drop that patch from scripts/patch-postgres.mjs\n`)
      process.exit(1)
    }
    writeFileSync(file, fixed)
    patched++
  }
}
process.stdout.write(`patch-postgres: ${patched === 0 ? 'already patched' : `patched ${patched} file(s)`}\n`)
