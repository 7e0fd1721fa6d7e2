import t from 'tap'
import { createLogger } from '../../src/platform/logger.ts'
import { OutageLog } from '../../src/platform/outage-log.ts'
import { logCollector } from '../helpers/app.ts'

function collected () {
  const { stream, logs } = logCollector()
  return { log: createLogger({ LOG_LEVEL: 'debug' }, stream), logs }
}

const lines = (logs: Array<Record<string, unknown>>) => logs.map(line => `${String(line.level)} ${String(line.msg)}`)

t.test('an outage is logged at its first failure and at its recovery, not in between', async tt => {
  const { log, logs } = collected()
  const outage = new OutageLog(log, { failed: 'x: unavailable', recovered: 'x: available again' })
  outage.recovered()
  tt.equal(outage.down, false)
  outage.failed(new Error('first'))
  outage.failed(new Error('second'))
  tt.equal(outage.down, true)
  outage.recovered()
  outage.recovered()
  outage.failed(new Error('again'))
  log.flush()
  await new Promise(resolve => setImmediate(resolve))
  tt.same(lines(logs), ['warn x: unavailable', 'info x: available again', 'warn x: unavailable'])
  tt.match(logs[0], { err: { message: 'first', stack: String } }, 'the whole error, by default')
  tt.notOk('after_ms' in (logs[1] ?? {}), 'no duration unless asked')
})

t.test('stillFailing logs every further failure at debug; err: message leaves the stack out; timed adds after_ms', async tt => {
  const { log, logs } = collected()
  const outage = new OutageLog(log, { failed: 'down', stillFailing: 'still down', recovered: 'up', err: 'message', timed: true })
  outage.failed(new Error('one'), { unsent: 3 })
  outage.failed(new Error('two'), { unsent: 4 })
  outage.recovered()
  log.flush()
  await new Promise(resolve => setImmediate(resolve))
  tt.same(lines(logs), ['warn down', 'debug still down', 'info up'])
  tt.match(logs[0]?.err, { message: 'one' })
  tt.equal((logs[0]?.err as { stack?: string } | undefined)?.stack ?? '', '', 'no stack')
  tt.equal(logs[0]?.unsent, 3)
  tt.equal(logs[1]?.unsent, 4)
  tt.type(logs[2]?.after_ms, 'number')
})
