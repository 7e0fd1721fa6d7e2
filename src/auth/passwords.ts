import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/**
 * Password hashing with node:crypto scrypt (no native dependency). A hash carries its parameters,
 * PHC style: `$scrypt$ln=14,r=8,p=1$<salt>$<hash>` (base64url), so they can be raised later and
 * old hashes still verify (login rehashes them, see needsRehash).
 *
 * Cost measured on this machine (2 cores, Node 20, quiet): ln=14 (N=16384, r=8) 35–55 ms per hash,
 * ln=15 88–93 ms, ln=16 175 ms. ln=14 sits inside the 30–80 ms aimed at; scrypt runs on the libuv
 * threadpool, so the event loop stays free while it works.
 */
export interface ScryptParameters {
  /** log2 of N, the CPU/memory cost */
  ln: number
  r: number
  p: number
}

export const currentParameters: ScryptParameters = { ln: 14, r: 8, p: 1 }

const SALT_BYTES = 16
const KEY_BYTES = 32
const MAX_LN = 20
const encodedPattern = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/

function derive (password: string, salt: Buffer, keyLength: number, { ln, r, p }: ScryptParameters): Promise<Buffer> {
  const N = 2 ** ln
  // scrypt needs 128·N·r bytes; Node's default maxmem (32 MiB) is exactly that at ln=15, r=8, so leave room
  const options: ScryptOptions = { N, r, p, maxmem: 256 * N * r + 1_048_576 }
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, options, (error, key) => error ? reject(error) : resolve(key))
  })
}

export async function hashPassword (password: string, parameters: ScryptParameters = currentParameters): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const key = await derive(password, salt, KEY_BYTES, parameters)
  const { ln, r, p } = parameters
  return `$scrypt$ln=${ln},r=${r},p=${p}$${salt.toString('base64url')}$${key.toString('base64url')}`
}

interface Decoded { parameters: ScryptParameters, salt: Buffer, key: Buffer }

function decode (encoded: string): Decoded | undefined {
  const match = encodedPattern.exec(encoded)
  if (match === null) return undefined
  const [, ln, r, p, salt, key] = match as unknown as [string, string, string, string, string, string]
  const parameters = { ln: Number(ln), r: Number(r), p: Number(p) }
  if (parameters.ln < 1 || parameters.ln > MAX_LN || parameters.r < 1 || parameters.p < 1) return undefined
  const decoded = { parameters, salt: Buffer.from(salt, 'base64url'), key: Buffer.from(key, 'base64url') }
  // a truncated hash would compare a few bytes, or none: never accept it
  return decoded.salt.length >= 8 && decoded.key.length >= 16 ? decoded : undefined
}

/** True when the password matches; compares in constant time. A hash it cannot read never matches. */
export async function verifyPassword (password: string, encoded: string): Promise<boolean> {
  const decoded = decode(encoded)
  if (decoded === undefined) return false
  const key = await derive(password, decoded.salt, decoded.key.length, decoded.parameters)
  return timingSafeEqual(key, decoded.key)
}

/** The hash was made with other parameters than today's: store a fresh one after a good login. */
export function needsRehash (encoded: string): boolean {
  const parameters = decode(encoded)?.parameters
  return parameters === undefined ||
    parameters.ln !== currentParameters.ln || parameters.r !== currentParameters.r || parameters.p !== currentParameters.p
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
