import t from 'tap'
import { ConfigError, loadConfig } from '../../src/config.ts'
import { tracesEndpoint } from '../../src/platform/telemetry/index.ts'
import { parseResourceAttributes } from '../../src/platform/telemetry/resource-attributes.ts'
import { samplerOf } from '../../src/platform/telemetry/sampler.ts'

const base = { NODE_ENV: 'test' }

t.test('tracing is off unless an endpoint is set; the traces endpoint wins and is used as given', async tt => {
  tt.equal(tracesEndpoint(loadConfig(base, '/nonexistent/.env')), undefined)
  tt.equal(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), 'http://collector:4318/v1/traces')
  tt.equal(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/otlp/' }), 'http://collector:4318/otlp/v1/traces')
  tt.equal(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://apm.example/ingest' }), 'https://apm.example/ingest')
})

t.test('the OTEL_* settings are validated with the others', async tt => {
  const config = loadConfig(base, '/nonexistent/.env')
  tt.equal(config.OTEL_EXPORTER_OTLP_PROTOCOL, 'http/protobuf', 'protobuf by default')
  tt.equal(config.OTEL_TRACES_SAMPLER, 'parentbased_always_on', 'the specification\'s default sampler')
  tt.equal(loadConfig({ ...base, OTEL_TRACES_SAMPLER_ARG: '0.25' }, '/nonexistent/.env').OTEL_TRACES_SAMPLER_ARG, 0.25)
  const empty = loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_TRACES_SAMPLER: '', OTEL_SERVICE_NAME: '' }, '/nonexistent/.env')
  tt.equal(tracesEndpoint(empty), undefined, 'an empty endpoint is unset: tracing off, not an error')
  tt.equal(empty.OTEL_TRACES_SAMPLER, 'parentbased_always_on', 'an empty sampler is the default')
  tt.equal(empty.OTEL_SERVICE_NAME, undefined)
  const error = tt.throws(() => loadConfig({
    ...base,
    OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    OTEL_TRACES_SAMPLER: 'sometimes',
    OTEL_TRACES_SAMPLER_ARG: '2'
  }, '/nonexistent/.env')) as ConfigError
  tt.ok(error instanceof ConfigError)
  for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG']) {
    tt.ok(error.problems.some(problem => problem.startsWith(`${name}:`)), `names ${name}`)
  }
})

t.test('OTEL_RESOURCE_ATTRIBUTES: comma-separated key=value, values percent-decoded, malformed pairs skipped', async tt => {
  tt.same(parseResourceAttributes(''), {})
  tt.same(parseResourceAttributes('deployment.environment.name=prod, service.namespace=atrium,team=core%20api,bad,=x,odd=%E0%A4%A'), {
    'deployment.environment.name': 'prod',
    'service.namespace': 'atrium',
    team: 'core api',
    odd: '%E0%A4%A'
  })
})

t.test('OTEL_TRACES_SAMPLER picks the sampler, the ratio from OTEL_TRACES_SAMPLER_ARG', async tt => {
  const describe = (name: Parameters<typeof samplerOf>[0]['OTEL_TRACES_SAMPLER'], ratio = 1): string =>
    samplerOf({ OTEL_TRACES_SAMPLER: name, OTEL_TRACES_SAMPLER_ARG: ratio }).toString()
  tt.equal(describe('always_on'), 'AlwaysOnSampler')
  tt.equal(describe('always_off'), 'AlwaysOffSampler')
  tt.match(describe('traceidratio', 0.1), /^TraceIdRatioBased\{0\.1\}$/)
  tt.match(describe('parentbased_always_on'), /^ParentBased\{root=AlwaysOnSampler/)
  tt.match(describe('parentbased_always_off'), /^ParentBased\{root=AlwaysOffSampler/)
  tt.match(describe('parentbased_traceidratio', 0.25), /^ParentBased\{root=TraceIdRatioBased\{0\.25\}/)
})
