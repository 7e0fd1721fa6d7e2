// Patches postgres.js (3.4.9, the latest release) against porsager/postgres#1208/#1154: when a
// connection closes while a transaction is open, begin() writes its ROLLBACK from a setImmediate
// after the socket is gone, and the TypeError ("reading 'write'") kills the process. Found by the
// fault tests (test-faults/postgres-stop.test.ts): PostgreSQL stopping under write load crashed the
// API. The guard settles the write as CONNECTION_CLOSED instead (a catchable error, so the
// request answers 503), and a closed connection forgets its pending write, so it cannot stay
// "poisoned" after a reconnect. Idempotent; fails loudly if the driver changes, so whoever
// upgrades it checks whether the fix landed upstream and drops this script.
// Run by `postinstall` and by the Dockerfile (which installs with --ignore-scripts).
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const MARKER = '/* atrium patch: porsager/postgres#1208 */'
const require = createRequire(import.meta.url)
const root = join(dirname(require.resolve('postgres')), '..', '..')

const unguarded = `  function nextWrite(fn) {
    const x = socket.write(chunk, fn)`
const guarded = `  function nextWrite(fn) {
    ${MARKER}
    if (!socket) {
      nextWriteTimer !== null && clearImmediate(nextWriteTimer)
      chunk = nextWriteTimer = null
      error(Errors.connection('CONNECTION_CLOSED', options))
      return false
    }
    const x = socket.write(chunk, fn)`
const teardown = '    clearImmediate(nextWriteTimer)\n'
const teardownFixed = '    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n'

let patched = 0
for (const flavour of ['src', 'cjs/src', 'cf/src']) {
  const file = join(root, flavour, 'connection.js')
  const text = readFileSync(file, 'utf8')
  if (text.includes(MARKER)) continue
  // terminate() and closed(): the two lines that cancel the pending write without forgetting it
  if (text.split(unguarded).length !== 2 || text.split(teardown).length !== 3) {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
    process.stderr.write(`patch-postgres: postgres ${version} ${flavour}/connection.js is not the code this patch knows; ` +
      'check whether porsager/postgres#1208 is fixed upstream and drop scripts/patch-postgres.mjs\n')
    process.exit(1)
  }
  writeFileSync(file, text.replace(unguarded, guarded).replaceAll(teardown, teardownFixed))
  patched++
}
process.stdout.write(`patch-postgres: ${patched === 0 ? 'already patched' : `patched ${patched} file(s)`}\n`)
