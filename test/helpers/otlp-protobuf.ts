/**
 * Enough of the protobuf wire format to read an OTLP ExportTraceServiceRequest as the official
 * exporter sends it (application/x-protobuf). Field numbers are opentelemetry-proto's
 * (opentelemetry/proto/trace/v1/trace.proto, common/v1/common.proto); fields the tests do not
 * read are skipped by wire type.
 */

export type AttributeValue = string | number | boolean | null

export interface DecodedSpan {
  traceId: string
  spanId: string
  /** '' for a root span */
  parentSpanId: string
  name: string
  /** SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer */
  kind: number
  attributes: Record<string, AttributeValue>
  /** Status code: 0 unset, 1 ok, 2 error */
  statusCode: number
  /** the resource's attributes (service.name ...) */
  resource: Record<string, AttributeValue>
}

interface Field { number: number, wireType: number, value: bigint | Uint8Array }

function * fields (bytes: Uint8Array): Generator<Field> {
  let offset = 0
  const varint = (): bigint => {
    let result = 0n
    let shift = 0n
    for (;;) {
      const byte = bytes[offset++]
      if (byte === undefined) throw new Error('truncated varint')
      result |= BigInt(byte & 0x7f) << shift
      if ((byte & 0x80) === 0) return result
      shift += 7n
    }
  }
  const fixed = (size: number): bigint => {
    let result = 0n
    for (let i = size - 1; i >= 0; i--) result = (result << 8n) | BigInt(bytes[offset + i] ?? 0)
    offset += size
    return result
  }
  while (offset < bytes.length) {
    const key = Number(varint())
    const number = key >>> 3
    const wireType = key & 7
    if (wireType === 0) yield { number, wireType, value: varint() }
    else if (wireType === 1) yield { number, wireType, value: fixed(8) }
    else if (wireType === 5) yield { number, wireType, value: fixed(4) }
    else if (wireType === 2) {
      const length = Number(varint())
      yield { number, wireType, value: bytes.subarray(offset, offset + length) }
      offset += length
    } else throw new Error(`unsupported wire type ${wireType}`)
  }
}

const text = (value: bigint | Uint8Array): string => new TextDecoder().decode(value as Uint8Array)
const hex = (value: bigint | Uint8Array): string => Buffer.from(value as Uint8Array).toString('hex')
const signed64 = (value: bigint): number => Number(BigInt.asIntN(64, value))

function anyValue (bytes: Uint8Array): AttributeValue {
  for (const field of fields(bytes)) {
    switch (field.number) {
      case 1: return text(field.value)
      case 2: return field.value === 1n
      case 3: return signed64(field.value as bigint)
      case 4: return new DataView(new BigUint64Array([field.value as bigint]).buffer).getFloat64(0, true)
    }
  }
  return null
}

function keyValues (into: Record<string, AttributeValue>, bytes: Uint8Array): void {
  let key = ''
  let value: AttributeValue = null
  for (const field of fields(bytes)) {
    if (field.number === 1) key = text(field.value)
    else if (field.number === 2) value = anyValue(field.value as Uint8Array)
  }
  into[key] = value
}

function attributesOf (bytes: Uint8Array, attributeField: number): Record<string, AttributeValue> {
  const attributes: Record<string, AttributeValue> = {}
  for (const field of fields(bytes)) if (field.number === attributeField) keyValues(attributes, field.value as Uint8Array)
  return attributes
}

function span (bytes: Uint8Array, resource: Record<string, AttributeValue>): DecodedSpan {
  const decoded: DecodedSpan = { traceId: '', spanId: '', parentSpanId: '', name: '', kind: 0, attributes: {}, statusCode: 0, resource }
  for (const field of fields(bytes)) {
    switch (field.number) {
      case 1: decoded.traceId = hex(field.value); break
      case 2: decoded.spanId = hex(field.value); break
      case 4: decoded.parentSpanId = hex(field.value); break
      case 5: decoded.name = text(field.value); break
      case 6: decoded.kind = Number(field.value); break
      case 9: keyValues(decoded.attributes, field.value as Uint8Array); break
      case 15:
        for (const status of fields(field.value as Uint8Array)) if (status.number === 3) decoded.statusCode = Number(status.value)
        break
    }
  }
  return decoded
}

/** The spans of one ExportTraceServiceRequest. */
export function decodeTraceRequest (bytes: Uint8Array): DecodedSpan[] {
  const spans: DecodedSpan[] = []
  for (const resourceSpans of fields(bytes)) {
    if (resourceSpans.number !== 1) continue
    let resource: Record<string, AttributeValue> = {}
    const scopes: Uint8Array[] = []
    for (const field of fields(resourceSpans.value as Uint8Array)) {
      if (field.number === 1) resource = attributesOf(field.value as Uint8Array, 1)
      else if (field.number === 2) scopes.push(field.value as Uint8Array)
    }
    for (const scope of scopes) {
      for (const field of fields(scope)) if (field.number === 2) spans.push(span(field.value as Uint8Array, resource))
    }
  }
  return spans
}
