import t from 'tap'
import { wantsPrettyLogs } from '../../src/platform/pretty-logs.ts'
import { spawnEntry } from '../helpers/child.ts'

t.test('readable logs only outside production: on a terminal unless LOG_PRETTY=0, or with LOG_PRETTY=1', async tt => {
  const cases = [
    [{ NODE_ENV: 'development' }, true, true],
    [{ NODE_ENV: 'development' }, false, false],
    [{ NODE_ENV: 'test', LOG_PRETTY: '1' }, false, true],
    [{ NODE_ENV: 'development', LOG_PRETTY: '0' }, true, false],
    [{ NODE_ENV: 'production' }, true, false],
    [{ NODE_ENV: 'production', LOG_PRETTY: '1' }, true, false],
    [{}, true, false]
  ] as const
  for (const [settings, terminal, pretty] of cases) {
    tt.equal(wantsPrettyLogs(settings, terminal), pretty, `${JSON.stringify(settings)}, stdout ${terminal ? 'a terminal' : 'a pipe'}: ${pretty ? 'readable' : 'JSON'}`)
  }
})

const environment = { NODE_ENV: 'development', LOG_LEVEL: 'info', DATABASE_URL: 'postgres://atrium_app@127.0.0.1:5432/atrium' }

t.test('a process logger with LOG_PRETTY=1 writes readable lines through pino-pretty', async tt => {
  const child = spawnEntry(tt, 'test/fixtures/log-one-line.ts', { ...environment, LOG_PRETTY: '1' })
  const exit = await child.exited
  tt.equal(exit.code, 0, child.stderr())
  const text = child.lines.map(line => String(line.text)).join('\n')
  tt.match(text, /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: one line\n {4}route: "GET \/probe"$/, 'clock time, level, message, then the fields')
})

t.test('stdout a pipe and LOG_PRETTY unset: JSON lines, epoch time', async tt => {
  const child = spawnEntry(tt, 'test/fixtures/log-one-line.ts', environment)
  const exit = await child.exited
  tt.equal(exit.code, 0, child.stderr())
  tt.match(child.lines, [{ level: 'info', msg: 'one line', route: 'GET /probe', time: Number }])
})
