import { spawn } from 'node:child_process'
import type { Teardown } from './app.ts'

/** A word for `sh -c`, whatever it holds. */
export const shellQuote = (word: string): string => `'${word.replaceAll("'", "'\\''")}'`

/**
 * A detached shell that outlives this process: once this process is gone, even killed by a
 * signal that no teardown or `exit` handler sees (tap's timeout), it runs `cleanup` (a shell
 * command: stop a server this test started, remove its folder). Returns a function that calls
 * the watchdog off, for when the teardown did the cleanup itself.
 */
export function cleanupIfOrphaned (cleanup: string): () => void {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${cleanup}`
  const watchdog = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' })
  watchdog.unref()
  return () => {
    // its own process group (detached): the shell and its `sleep` together
    try {
      if (watchdog.pid !== undefined) process.kill(-watchdog.pid, 'SIGKILL')
    } catch {}
  }
}

/**
 * test/helpers/redis-server.ts stops its redis-server on teardown and on `exit`, not when the test
 * process is killed: this asks that server (by its port, so no other) to shut down then.
 */
export function shutdownRedisIfOrphaned (t: Teardown, port: number): void {
  t.teardown(cleanupIfOrphaned(`redis-cli -h 127.0.0.1 -p ${port} shutdown nosave >/dev/null 2>&1`))
}
