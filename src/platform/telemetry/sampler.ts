import {
  AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler
} from '@opentelemetry/sdk-trace'
import type { TelemetrySettings } from './index.ts'

/**
 * The sampler OTEL_TRACES_SAMPLER names, OTEL_TRACES_SAMPLER_ARG its ratio. The parentbased_*
 * samplers (the default is parentbased_always_on) follow the caller's sampled flag, so a trace is
 * kept or dropped whole across nginx, the API and the worker.
 */
export function samplerOf (config: Pick<TelemetrySettings, 'OTEL_TRACES_SAMPLER' | 'OTEL_TRACES_SAMPLER_ARG'>): Sampler {
  const ratio = new TraceIdRatioBasedSampler(config.OTEL_TRACES_SAMPLER_ARG)
  switch (config.OTEL_TRACES_SAMPLER) {
    case 'always_on': return new AlwaysOnSampler()
    case 'always_off': return new AlwaysOffSampler()
    case 'traceidratio': return ratio
    case 'parentbased_always_on': return new ParentBasedSampler({ root: new AlwaysOnSampler() })
    case 'parentbased_always_off': return new ParentBasedSampler({ root: new AlwaysOffSampler() })
    case 'parentbased_traceidratio': return new ParentBasedSampler({ root: ratio })
  }
}
