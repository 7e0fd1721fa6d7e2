import { createHmac, timingSafeEqual } from 'node:crypto'

/** How far a signature's timestamp may be from now, either way (API.md Billing: 5 minutes). */
export const SIGNATURE_TOLERANCE_S = 300

const TIMESTAMP = /^[0-9]{1,12}$/
const HEX_SHA256 = /^[0-9a-f]{64}$/i
// a provider sends one v1 per active secret; more than a handful is not a signature header
const MAX_PARTS = 16

export interface SignatureHeader {
  timestamp: number
  /** the v1= digests, 32 bytes each */
  digests: Buffer[]
}

/**
 * `t=<unix seconds>,v1=<hex>[,v1=<hex>...]`; other keys (a future scheme) are skipped.
 * Undefined unless there is exactly one timestamp and at least one well-formed v1 digest.
 */
export function parseSignatureHeader (header: string): SignatureHeader | undefined {
  const parts = header.split(',')
  if (parts.length > MAX_PARTS) return undefined
  let timestamp: number | undefined
  const digests: Buffer[] = []
  for (const part of parts) {
    const separator = part.indexOf('=')
    if (separator <= 0) return undefined
    const key = part.slice(0, separator).trim()
    const value = part.slice(separator + 1).trim()
    if (key === 't') {
      if (timestamp !== undefined || !TIMESTAMP.test(value)) return undefined
      timestamp = Number(value)
    } else if (key === 'v1') {
      if (!HEX_SHA256.test(value)) return undefined
      digests.push(Buffer.from(value, 'hex'))
    }
  }
  return timestamp === undefined || digests.length === 0 ? undefined : { timestamp, digests }
}

/** HMAC-SHA256 of `<t>.<raw body>`: what the provider signs. */
export function signatureDigest (secret: string, timestamp: number, rawBody: Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest()
}

/**
 * Checks `Payments-Signature` over the raw request bytes: the timestamp within the tolerance of
 * now, and some v1 digest equal (in constant time) to the HMAC under one of the secrets, so a
 * secret can be rotated by accepting the old and the new one for a while.
 */
export class WebhookSignatureVerifier {
  private readonly secrets: readonly string[]

  constructor (secrets: readonly string[], private readonly toleranceS = SIGNATURE_TOLERANCE_S) {
    if (secrets.length === 0) throw new Error('at least one webhook secret is needed')
    this.secrets = [...secrets]
  }

  verify (header: string | undefined, rawBody: Buffer, nowMs = Date.now()): boolean {
    if (header === undefined) return false
    const parsed = parseSignatureHeader(header)
    if (parsed === undefined) return false
    if (Math.abs(nowMs / 1000 - parsed.timestamp) > this.toleranceS) return false
    for (const secret of this.secrets) {
      const expected = signatureDigest(secret, parsed.timestamp, rawBody)
      // every digest was checked to be 32 bytes, the length timingSafeEqual needs
      if (parsed.digests.some(digest => timingSafeEqual(digest, expected))) return true
    }
    return false
  }
}
