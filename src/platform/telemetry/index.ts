import type { Config } from '../../config.ts'
import type { Logger } from '../logger.ts'
import type { Telemetry } from './telemetry.ts'

export type { JobRun, SpanIds, Telemetry } from './telemetry.ts'

export type TelemetrySettings = Pick<Config,
  'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' | 'OTEL_EXPORTER_OTLP_PROTOCOL' |
  'OTEL_SERVICE_NAME' | 'OTEL_RESOURCE_ATTRIBUTES' | 'OTEL_TRACES_SAMPLER' | 'OTEL_TRACES_SAMPLER_ARG'>

/**
 * Where spans are sent, or undefined when tracing is off: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as
 * given, else OTEL_EXPORTER_OTLP_ENDPOINT with the signal's path (the OTLP exporter specification).
 */
export function tracesEndpoint (config: Pick<TelemetrySettings, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'>): string | undefined {
  if (config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined) return config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  const base = config.OTEL_EXPORTER_OTLP_ENDPOINT
  if (base === undefined) return undefined
  return `${base.endsWith('/') ? base : `${base}/`}v1/traces`
}

/**
 * Tracing for this process, started once: undefined, having loaded nothing, when no OTLP endpoint
 * is set; otherwise the SDK, imported only now, exporting over OTLP/HTTP.
 */
export async function startTelemetry (config: TelemetrySettings, log: Logger): Promise<Telemetry | undefined> {
  const url = tracesEndpoint(config)
  if (url === undefined) return undefined
  const { createTelemetry } = await import('./sdk.ts')
  const telemetry = await createTelemetry(config, url, log)
  log.info({ url, protocol: config.OTEL_EXPORTER_OTLP_PROTOCOL, sampler: config.OTEL_TRACES_SAMPLER }, 'tracing: exporting spans over OTLP')
  return telemetry
}
