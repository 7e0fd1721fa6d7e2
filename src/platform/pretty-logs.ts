import { pino, type DestinationStream } from 'pino'
import type { Config } from '../config.ts'

export type PrettySettings = Partial<Pick<Config, 'NODE_ENV' | 'LOG_PRETTY'>>

/**
 * Readable logs (pino-pretty) instead of JSON lines: never in production, nor for a logger whose
 * settings do not say where it runs (scripts, tests); otherwise when LOG_PRETTY=1, or when stdout
 * is a terminal and LOG_PRETTY is not 0.
 */
export function wantsPrettyLogs (settings: PrettySettings, stdoutIsTerminal: boolean): boolean {
  if (settings.NODE_ENV === undefined || settings.NODE_ENV === 'production') return false
  return settings.LOG_PRETTY === undefined ? stdoutIsTerminal : settings.LOG_PRETTY === '1'
}

/**
 * pino-pretty as a pino transport: loaded by name in pino's worker thread, so nothing imports it
 * unless development asks for it (it is a development dependency, not in the image). Local clock
 * times instead of the epoch milliseconds the JSON lines carry; pid and hostname left out.
 */
export function prettyStdout (): DestinationStream {
  return pino.transport({
    target: 'pino-pretty',
    options: { destination: 1, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }
  }) as DestinationStream
}
