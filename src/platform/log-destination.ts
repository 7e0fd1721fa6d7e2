import { pino, type DestinationStream } from 'pino'

// 32 KiB: a write syscall per ~100 lines instead of per ~12 (4 KiB cost 0.3 µs more per line to a
// file, 0.5 µs to a pipe); half a Linux pipe's 64 KiB buffer, so a write rarely waits for the reader
const BATCH_CHARS = 32_768
const FLUSH_EVERY_MS = 500

interface LineSink {
  write: (text: string) => unknown
}

/**
 * Log lines gathered in memory and written to their sink together, once 32 KiB have gathered and
 * at least every half second: under load many lines leave in one write instead of one syscall
 * each (profiled at 6% of a no-query request).
 *
 * Gathered here, as an array, rather than by sonic-boom's own `minLength`: sonic-boom appends each
 * line to its pending string and measures that string's byte length again on every line, a cost
 * that grows with what is pending while a write is in flight (what it cost under load, profiled:
 * bench/README.md, "Hot-path notes").
 */
export class LineBatcher implements DestinationStream {
  private lines: string[] = []
  private chars = 0

  constructor (private readonly sink: LineSink, private readonly batchChars = BATCH_CHARS) {}

  write (line: string): void {
    this.lines.push(line)
    this.chars += line.length
    if (this.chars >= this.batchChars) this.flush()
  }

  /** Writes what has gathered; the sink is synchronous, so it has left when this returns. */
  flush (): void {
    if (this.lines.length === 0) return
    const text = this.lines.join('')
    this.lines = []
    this.chars = 0
    this.sink.write(text)
  }

  /** pino calls it after a fatal line */
  flushSync (): void {
    this.flush()
  }
}

const live = new Set<LineBatcher>()

function flushAll (): void {
  for (const batcher of live) batcher.flush()
}

/**
 * stdout for a process logger: a LineBatcher over pino's synchronous destination, flushed by one
 * timer and once more when the process exits, so no line is lost on exit, crash or `process.exit`.
 */
export function batchedStdout (): DestinationStream {
  if (live.size === 0) {
    setInterval(flushAll, FLUSH_EVERY_MS).unref()
    process.on('exit', flushAll)
  }
  const batcher = new LineBatcher(pino.destination({ dest: 1, sync: true }))
  live.add(batcher)
  return batcher
}
