import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { LineBatcher } from '../../src/platform/log-destination.ts'

const fixture = fileURLToPath(new URL('../fixtures/log-then-exit.ts', import.meta.url))

/** Runs the fixture and returns the numbers of the lines it wrote to stdout, in order. */
function linesWritten (lines: number, exitBy: string): Promise<{ numbers: number[], code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', fixture], {
      env: { ...process.env, LINES: String(lines), EXIT_BY: exitBy },
      stdio: ['ignore', 'pipe', 'ignore']
    })
    let stdout = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => { stdout += chunk })
    child.on('error', reject)
    child.on('close', code => {
      const numbers = stdout.split('\n').filter(line => line !== '').map(line => (JSON.parse(line) as { line: number }).line)
      resolve({ numbers, code })
    })
  })
}

const upTo = (count: number) => Array.from({ length: count }, (_, i) => i)

t.test('lines wait in memory until a batch has gathered, then leave in one write, in order', async tt => {
  const writes: string[] = []
  const batcher = new LineBatcher({ write: text => writes.push(text) }, 30)
  batcher.write('first line\n')
  batcher.write('second line\n')
  tt.same(writes, [], 'below the batch size nothing is written')
  batcher.write('third line\n')
  tt.same(writes, ['first line\nsecond line\nthird line\n'])
  batcher.write('fourth\n')
  batcher.flush()
  tt.same(writes, ['first line\nsecond line\nthird line\n', 'fourth\n'], 'flush writes what is pending')
  batcher.flush()
  tt.equal(writes.length, 2, 'an empty flush writes nothing')
})

// a few lines stay below the batch size; 2,000 fill many batches and leave a partial one
for (const lines of [3, 2_000]) {
  for (const exitBy of ['exit', 'throw', 'drain']) {
    t.test(`${lines} lines then ${exitBy}: every line reaches stdout, in order`, async tt => {
      const { numbers, code } = await linesWritten(lines, exitBy)
      tt.same(numbers, upTo(lines))
      tt.equal(code, exitBy === 'throw' ? 1 : 0)
    })
  }
}
