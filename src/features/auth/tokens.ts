import { createHash, randomUUID } from 'node:crypto'
import { createSigner, createVerifier, TokenError } from 'fast-jwt'
import { LRUCache } from 'lru-cache'
import { AppError } from '../../platform/errors.ts'
import { isLowercaseUuid } from '../../platform/ids.ts'

/** The claims of an access token this service issued and verified. */
export interface AccessClaims {
  /** the user id */
  sub: string
  iat: number
  exp: number
  jti: string
  /** the tenant the token is bound to (login with `tenant`) */
  tid?: string
}

export interface IssuedToken {
  token: string
  /** seconds until it expires */
  expiresIn: number
}

export interface AccessTokenOptions {
  /** HS256 secrets: the first signs, every one verifies (key rotation) */
  secrets: readonly string[]
  ttlSeconds: number
  /** verified tokens remembered in memory (no crypto on a hit) */
  cacheSize?: number
}

const ALGORITHM = 'HS256'
/** ours are ~300 characters; the cap also bounds the verifier cache's memory (keyed by token) */
const MAX_TOKEN_LENGTH = 1_024

type Verify = (token: string) => unknown

/** A token this service verified, and what it said. */
interface VerifiedToken {
  token: string
  claims: AccessClaims
}

/** The signature segment: an HMAC-SHA256, so unique per token and short to hash. */
const signatureOf = (token: string): string => token.slice(token.lastIndexOf('.') + 1)

/** The key id a secret signs under: the start of its SHA-256, which says nothing useful about it. */
export function keyIdOf (secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 16)
}

const unauthenticated = () => new AppError('unauthenticated', { detail: 'a valid bearer token is required' })

function verificationError (error: unknown): AppError {
  if (error instanceof AppError) return error
  if (error instanceof TokenError && error.code === TokenError.codes.expired) {
    return new AppError('token_expired', { detail: 'the access token has expired; refresh it' })
  }
  return unauthenticated()
}

function headerOf (segment: string): Record<string, unknown> | undefined {
  try {
    const header: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
    return typeof header === 'object' && header !== null ? header as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

/**
 * Access tokens: HS256 JWTs, the algorithm pinned on verify. Every token names its signing key in
 * the header (`kid`, see keyIdOf); verification picks that key's verifier, so during a rotation a
 * token signed with an older secret costs one verification, not one per configured secret, and a
 * token without a known kid is refused. Verified tokens are cached (bounded, until their `exp`):
 * a hot token costs a map lookup, no crypto and no JSON parsing.
 */
export class AccessTokens {
  private readonly sign: (payload: Record<string, unknown>) => string
  /** keyed by the exact header segment our signer writes, so a hit needs no header parsing */
  private readonly byHeader = new Map<string, Verify>()
  private readonly byKeyId = new Map<string, Verify>()
  private readonly ttlSeconds: number
  /**
   * Verified tokens until their `exp`, by signature, a hit confirmed against the whole text. Not
   * fast-jwt's own cache: it keys by the token's SHA-256, computed on every lookup. Not keyed by the
   * whole token either: that is ~350 fresh characters to hash on every request, the signature 43
   * (the profiled costs: bench/README.md, "Hot-path notes").
   */
  private readonly verified: LRUCache<string, VerifiedToken>

  constructor (options: AccessTokenOptions) {
    const [signingSecret] = options.secrets
    if (signingSecret === undefined) throw new Error('AccessTokens: at least one secret is required')
    this.ttlSeconds = options.ttlSeconds
    this.verified = new LRUCache({ max: options.cacheSize ?? 10_000, ttl: options.ttlSeconds * 1000 })
    this.sign = createSigner({ key: signingSecret, algorithm: ALGORITHM, kid: keyIdOf(signingSecret), expiresIn: options.ttlSeconds * 1000 })
    for (const secret of options.secrets) {
      const kid = keyIdOf(secret)
      const verify: Verify = createVerifier({
        key: secret,
        algorithms: [ALGORITHM],
        requiredClaims: ['sub', 'iat', 'exp', 'jti']
      })
      const header = createSigner({ key: secret, algorithm: ALGORITHM, kid })({}).split('.', 1)[0] as string
      this.byHeader.set(header, verify)
      this.byKeyId.set(kid, verify)
    }
  }

  issue (userId: string, tenantId?: string | null): IssuedToken {
    const payload: Record<string, unknown> = { sub: userId, jti: randomUUID() }
    if (tenantId) payload.tid = tenantId
    return { token: this.sign(payload), expiresIn: this.ttlSeconds }
  }

  /** The claims of a token this service issued; AppError unauthenticated or token_expired otherwise. */
  verify (token: string): AccessClaims {
    const signature = signatureOf(token)
    const hit = this.verified.get(signature)
    if (hit !== undefined && hit.token === token) return hit.claims
    if (token.length > MAX_TOKEN_LENGTH) throw unauthenticated()
    const dot = token.indexOf('.')
    if (dot <= 0) throw unauthenticated()
    const segment = token.slice(0, dot)
    let verify = this.byHeader.get(segment)
    if (verify === undefined) {
      const kid = headerOf(segment)?.kid
      verify = typeof kid === 'string' ? this.byKeyId.get(kid) : undefined
      if (verify === undefined) throw unauthenticated()
    }
    let claims: unknown
    try {
      claims = verify(token)
    } catch (error) {
      throw verificationError(error)
    }
    const verifiedClaims = checked(claims)
    const remainingMs = verifiedClaims.exp * 1000 - Date.now()
    if (remainingMs > 0) this.verified.set(signature, { token, claims: verifiedClaims }, { ttl: remainingMs })
    return verifiedClaims
  }
}

/** Signed by us, but still checked for shape: sub and tid reach SQL as uuids. */
function checked (claims: unknown): AccessClaims {
  const { sub, tid, jti } = claims as Partial<Record<keyof AccessClaims, unknown>>
  if (typeof sub !== 'string' || !isLowercaseUuid(sub) || typeof jti !== 'string') throw unauthenticated()
  if (tid !== undefined && (typeof tid !== 'string' || !isLowercaseUuid(tid))) throw unauthenticated()
  return claims as AccessClaims
}
