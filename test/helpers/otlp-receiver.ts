import { createServer, type IncomingMessage } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { Teardown } from './app.ts'
import { decodeTraceRequest, type AttributeValue, type DecodedSpan } from './otlp-protobuf.ts'

export type { DecodedSpan }

export interface OtlpReceiver {
  /** the base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it (spans arrive at <url>/v1/traces) */
  url: string
  /** every span received so far */
  readonly spans: readonly DecodedSpan[]
  /** the content type of each export request received */
  readonly contentTypes: readonly string[]
  /** the spans that match, once `ready` holds for them; rejects when time is up */
  waitFor: (what: string, ready: (spans: readonly DecodedSpan[]) => boolean, timeoutMs?: number) => Promise<readonly DecodedSpan[]>
}

interface JsonKeyValue { key: string, value: Record<string, unknown> }
interface JsonSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  kind: number
  attributes?: JsonKeyValue[]
  status?: { code?: number }
}
interface JsonTraceRequest {
  resourceSpans?: Array<{ resource?: { attributes?: JsonKeyValue[] }, scopeSpans?: Array<{ spans?: JsonSpan[] }> }>
}

function jsonValue (value: Record<string, unknown>): AttributeValue {
  if ('stringValue' in value) return String(value.stringValue)
  if ('boolValue' in value) return Boolean(value.boolValue)
  if ('intValue' in value) return Number(value.intValue)
  if ('doubleValue' in value) return Number(value.doubleValue)
  return null
}

function jsonAttributes (list: JsonKeyValue[] = []): Record<string, AttributeValue> {
  return Object.fromEntries(list.map(({ key, value }) => [key, jsonValue(value)]))
}

/** OTLP/JSON (the exporter writes ids as hex) into the same shape the protobuf decoder gives. */
function decodeJson (body: Buffer): DecodedSpan[] {
  const request = JSON.parse(body.toString('utf8')) as JsonTraceRequest
  return (request.resourceSpans ?? []).flatMap(resourceSpans => {
    const resource = jsonAttributes(resourceSpans.resource?.attributes)
    return (resourceSpans.scopeSpans ?? []).flatMap(scope => (scope.spans ?? []).map(span => ({
      traceId: span.traceId,
      spanId: span.spanId,
      parentSpanId: span.parentSpanId ?? '',
      name: span.name,
      kind: span.kind,
      attributes: jsonAttributes(span.attributes),
      statusCode: span.status?.code ?? 0,
      resource
    })))
  })
}

async function bodyOf (request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/**
 * An OTLP/HTTP trace receiver on a free loopback port: it accepts POST /v1/traces in protobuf or
 * JSON, decodes the spans and answers an empty success, as a collector does. Closed when the test ends.
 */
export async function startOtlpReceiver (t: Teardown): Promise<OtlpReceiver> {
  const spans: DecodedSpan[] = []
  const contentTypes: string[] = []
  const waiters = new Set<() => void>()
  const server = createServer((request, response) => {
    bodyOf(request).then(body => {
      const type = request.headers['content-type'] ?? ''
      if (request.method !== 'POST' || request.url !== '/v1/traces') {
        response.writeHead(404).end()
        return
      }
      contentTypes.push(type)
      const json = type.startsWith('application/json')
      spans.push(...(json ? decodeJson(body) : decodeTraceRequest(body)))
      for (const wake of waiters) wake()
      if (json) response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      else response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()
    }).catch((error: unknown) => {
      response.writeHead(400).end(String(error))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  })

  async function waitFor (what: string, ready: (received: readonly DecodedSpan[]) => boolean, timeoutMs = 30_000): Promise<readonly DecodedSpan[]> {
    const deadline = Date.now() + timeoutMs
    while (!ready(spans)) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no ${what} among ${spans.length} spans received: ${spans.map(s => s.name).join(', ')}`)
      await new Promise<void>(resolve => {
        const wake = (): void => { clearTimeout(timer); waiters.delete(wake); resolve() }
        const timer = setTimeout(wake, left)
        waiters.add(wake)
      })
    }
    return spans
  }

  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, spans, contentTypes, waitFor }
}
