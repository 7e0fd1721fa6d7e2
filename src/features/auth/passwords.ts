import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2'

/**
 * Password hashing: argon2id (@node-rs/argon2, prebuilt for each platform, runs on the libuv
 * threadpool so the event loop stays free) at OWASP's minimum, m=19 MiB, t=2, p=1. A hash carries
 * its parameters (PHC string), so they can be raised later; login rehashes any hash that is not
 * argon2id at today's parameters (needsRehash), including the scrypt hashes of before.
 *
 * Why not scrypt at its guidance (N=2^17, r=8, p=1: 128 MiB): measured on this machine (2 cores,
 * Node 24) it took 350–400 ms a hash, far over the ~100 ms a login may spend; argon2id at OWASP's
 * minimum took 10–30 ms (up to ~90 ms with the machine busy). Node's own crypto.argon2 needs
 * Node 24.7, and Atrium runs on Node 20 too.
 */
export interface Argon2Parameters {
  /** memory in KiB */
  m: number
  /** passes */
  t: number
  /** lanes */
  p: number
}

/** The hash format before argon2id: `$scrypt$ln=14,r=8,p=1$<salt>$<hash>` (base64url). Verified, never made any more. */
export interface ScryptParameters {
  /** log2 of N, the CPU/memory cost */
  ln: number
  r: number
  p: number
}

export type PasswordParameters = Argon2Parameters | ScryptParameters

export const currentParameters: Argon2Parameters = { m: 19_456, t: 2, p: 1 }

const SALT_BYTES = 16
const KEY_BYTES = 32
const MAX_LN = 20
/** a stored hash naming more than this is refused rather than run (a 4 GiB hash would take the process down) */
const MAX_ARGON2_MEMORY_KIB = 262_144
const MAX_ARGON2_PASSES = 16
const scryptPattern = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/
const argon2Pattern = /^\$argon2id\$v=19\$m=(\d{1,7}),t=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{11,})\$([A-Za-z0-9+/]{22,})$/

function deriveScrypt (password: string, salt: Buffer, keyLength: number, { ln, r, p }: ScryptParameters): Promise<Buffer> {
  const N = 2 ** ln
  // scrypt needs 128·N·r bytes; Node's default maxmem (32 MiB) is exactly that at ln=15, r=8, so leave room
  const options: ScryptOptions = { N, r, p, maxmem: 256 * N * r + 1_048_576 }
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, options, (error, key) => error ? reject(error) : resolve(key))
  })
}

function isScrypt (parameters: PasswordParameters): parameters is ScryptParameters {
  return 'ln' in parameters
}

/** A new hash; scrypt parameters only make old-style hashes, for tests of the migration. */
export async function hashPassword (password: string, parameters: PasswordParameters = currentParameters): Promise<string> {
  if (isScrypt(parameters)) {
    const salt = randomBytes(SALT_BYTES)
    const key = await deriveScrypt(password, salt, KEY_BYTES, parameters)
    const { ln, r, p } = parameters
    return `$scrypt$ln=${ln},r=${r},p=${p}$${salt.toString('base64url')}$${key.toString('base64url')}`
  }
  return argon2Hash(password.normalize('NFC'), {
    memoryCost: parameters.m,
    timeCost: parameters.t,
    parallelism: parameters.p,
    outputLen: KEY_BYTES
  })
}

type Decoded =
  | { algorithm: 'scrypt', parameters: ScryptParameters, salt: Buffer, key: Buffer }
  | { algorithm: 'argon2id', parameters: Argon2Parameters }

function decode (encoded: string): Decoded | undefined {
  const argon2 = argon2Pattern.exec(encoded)
  if (argon2 !== null) {
    const [, m, t, p] = argon2 as unknown as [string, string, string, string]
    const parameters = { m: Number(m), t: Number(t), p: Number(p) }
    const sane = parameters.m >= 8 * parameters.p && parameters.m <= MAX_ARGON2_MEMORY_KIB &&
      parameters.t >= 1 && parameters.t <= MAX_ARGON2_PASSES && parameters.p >= 1
    return sane ? { algorithm: 'argon2id', parameters } : undefined
  }
  const match = scryptPattern.exec(encoded)
  if (match === null) return undefined
  const [, ln, r, p, salt, key] = match as unknown as [string, string, string, string, string, string]
  const parameters = { ln: Number(ln), r: Number(r), p: Number(p) }
  if (parameters.ln < 1 || parameters.ln > MAX_LN || parameters.r < 1 || parameters.p < 1) return undefined
  const decoded = { algorithm: 'scrypt' as const, parameters, salt: Buffer.from(salt, 'base64url'), key: Buffer.from(key, 'base64url') }
  // a truncated hash would compare a few bytes, or none: never accept it
  return decoded.salt.length >= 8 && decoded.key.length >= 16 ? decoded : undefined
}

/** True when the password matches; compares in constant time. A hash it cannot read never matches. */
export async function verifyPassword (password: string, encoded: string): Promise<boolean> {
  const decoded = decode(encoded)
  if (decoded === undefined) return false
  if (decoded.algorithm === 'argon2id') {
    return argon2Verify(encoded, password.normalize('NFC')).catch(() => false)
  }
  const key = await deriveScrypt(password, decoded.salt, decoded.key.length, decoded.parameters)
  return timingSafeEqual(key, decoded.key)
}

/** The hash is not argon2id at today's parameters: store a fresh one after a good login. */
export function needsRehash (encoded: string): boolean {
  const decoded = decode(encoded)
  if (decoded?.algorithm !== 'argon2id') return true
  const { m, t, p } = decoded.parameters
  return m !== currentParameters.m || t !== currentParameters.t || p !== currentParameters.p
}

let dummy: Promise<string> | undefined

/**
 * A hash of a random password with today's parameters, made once: login verifies against it when
 * the email is unknown, so an unknown email costs the same time as a wrong password.
 */
export function dummyHash (): Promise<string> {
  dummy ??= hashPassword(randomBytes(18).toString('base64url'))
  return dummy
}
