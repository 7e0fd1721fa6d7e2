import { createHash, randomBytes } from 'node:crypto'

/** An opaque refresh token and the only thing stored of it: its SHA-256. */
export interface NewRefreshToken {
  token: string
  hash: Buffer
}

const TOKEN_BYTES = 32

/**
 * SHA-256 without a salt is enough here: the token is 256 random bits, so the hash cannot be
 * reversed by guessing, and an unsalted hash can be looked up by its unique index.
 */
export function hashRefreshToken (token: string): Buffer {
  return createHash('sha256').update(token).digest()
}

export function newRefreshToken (): NewRefreshToken {
  const token = randomBytes(TOKEN_BYTES).toString('base64url')
  return { token, hash: hashRefreshToken(token) }
}
