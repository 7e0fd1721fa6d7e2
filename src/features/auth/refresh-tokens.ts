import { createHash, createHmac, randomBytes } from 'node:crypto'

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

/**
 * The token that replaces `presented` when it is spent: HMAC-SHA256 of it under a server key,
 * so a second refresh with the same token inside the grace can answer the same successor
 * although only hashes are stored. Keyed, so that someone holding an old token cannot compute the
 * chain of its successors offline and skip the reuse detection.
 */
export function successorRefreshToken (presented: string, key: string): NewRefreshToken {
  const token = createHmac('sha256', key).update('atrium refresh successor\0').update(presented).digest('base64url')
  return { token, hash: hashRefreshToken(token) }
}
