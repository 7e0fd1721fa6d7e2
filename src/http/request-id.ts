import { randomFillSync } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

const saneRequestId = /^[A-Za-z0-9._:-]{1,128}$/

/** Fastify's genReqId: the incoming X-Request-Id when it is a sane token, else a fresh UUID. */
export function requestIdOf (request: IncomingMessage): string {
  const incoming = request.headers['x-request-id']
  return typeof incoming === 'string' && saneRequestId.test(incoming) ? incoming : randomRequestUuid()
}

const UUIDS_PER_FILL = 256
const random = Buffer.alloc(16 * UUIDS_PER_FILL)
let used = UUIDS_PER_FILL
const text = Buffer.from('00000000-0000-4000-8000-000000000000', 'latin1')
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1')
/** where each of the 16 bytes' two hex digits go in the text */
const DIGITS_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34]

/**
 * A random (version 4) UUID, as crypto.randomUUID makes one, from the same kind of batch of
 * secure random bytes, but written as hex digits into one buffer and read out as one string:
 * randomUUID joins twenty pieces into a string that is flattened again when it is hashed or
 * written, about 0.3 µs and half a KiB of garbage per request (bench/README.md, "Hot-path notes").
 */
export function randomRequestUuid (): string {
  if (used === UUIDS_PER_FILL) {
    randomFillSync(random)
    used = 0
  }
  const offset = 16 * used++
  for (let i = 0; i < 16; i++) {
    let byte = random[offset + i] as number
    if (i === 6) byte = (byte & 0x0f) | 0x40 // version 4
    else if (i === 8) byte = (byte & 0x3f) | 0x80 // RFC 9562 variant
    const at = DIGITS_AT[i] as number
    text[at] = HEX_DIGITS[byte >> 4] as number
    text[at + 1] = HEX_DIGITS[byte & 0x0f] as number
  }
  return text.toString('latin1')
}
