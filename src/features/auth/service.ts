import type { Static } from '@sinclair/typebox'
import type { Database, TransactionSql } from '../../platform/db/database.ts'
import { isUniqueViolation } from '../../platform/db/errors.ts'
import { AppError, conflict } from '../../platform/errors.ts'
import { uuidv7 } from '../../platform/ids.ts'
import type { ServiceLog } from '../../platform/logger.ts'
import type { Loaded } from '../../schemas/common.ts'
import { dummyHash, hashPassword, needsRehash, verifyPassword } from './passwords.ts'
import { hashRefreshToken, newRefreshToken, successorRefreshToken, type NewRefreshToken } from './refresh-tokens.ts'
import type { LoginBody, RegisterBody, TokenPair as TokenPairSchema } from './schemas.ts'
import type { AccessTokens } from './tokens.ts'
import type { User as UserSchema } from './user-schemas.ts'

export type NewUser = Static<typeof RegisterBody>
export type Credentials = Static<typeof LoginBody>
/** the account register answers, created_at the Date PostgreSQL returns */
export type User = Loaded<typeof UserSchema>
export type TokenPair = Static<typeof TokenPairSchema>

/** The tenant lookups login needs to bind a token (the tenancy plugin's cached directory). */
export interface TenantLookup {
  loadTenant: (key: string) => Promise<{ id: string } | null>
  loadRole: (tenantId: string, userId: string) => Promise<string | null>
}

export interface AuthServiceOptions {
  db: Database
  tokens: AccessTokens
  tenants: TenantLookup
  refreshTtlSeconds: number
  /** server key of the successor derivation (successorRefreshToken): the JWT signing secret */
  successorKey: string
  log: ServiceLog
}

/**
 * A spent refresh token presented again within this many seconds of its spending answers the
 * same successor (two tabs refreshing at once), while that successor is itself unspent. Later,
 * or once the successor moved on, it is a reuse: the family is revoked.
 */
export const REFRESH_GRACE_S = 10

const badCredentials = () => new AppError('unauthenticated', { detail: 'wrong email or password' })
const badRefreshToken = () => new AppError('unauthenticated', { detail: 'the refresh token is not valid' })

/** Emails compare case-insensitively everywhere: stored and looked up lower-cased. */
export const normalizeEmail = (email: string): string => email.trim().toLowerCase()

type RefreshOutcome =
  | { kind: 'rotated', userId: string, tenantId: string | null, token: string }
  | { kind: 'reused', userId: string, familyId: string }
  | { kind: 'invalid' }

interface PresentedToken {
  id: string
  user_id: string
  family_id: string
  tenant_id: string | null
  spent: boolean
  in_grace: boolean
  revoked: boolean
  expired: boolean
  user_deleted: boolean
}

/**
 * Registration, login and the refresh-token lifecycle. Refresh tokens are opaque, stored as
 * SHA-256 only, and rotated on every use inside a family (one login = one family): presenting a
 * spent token means it was copied, so the whole family is revoked, the newest token included.
 * Except within REFRESH_GRACE_S of its spending, while its successor is unspent: then it answers
 * that same successor (derived from the presented token under a server key, so it can be given
 * again without being stored), and no second live token exists.
 * Logout revokes the family. Access tokens are stateless and live until their `exp`.
 */
export class AuthService {
  constructor (private readonly options: AuthServiceOptions) {}

  async register (input: NewUser): Promise<User> {
    const passwordHash = await hashPassword(input.password)
    try {
      // the unique index on lower(email) decides a race; there is no racy pre-check
      const [user] = await this.options.db.transaction(null, tx => tx<User[]>`
        insert into users (email, name, password_hash)
        values (${normalizeEmail(input.email)}, ${input.name}, ${passwordHash})
        returning id, email, name, created_at`)
      return user as User
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict('an account with this email already exists')
      throw error
    }
  }

  /**
   * Wrong email and wrong password answer alike and take alike: an unknown email is verified
   * against a dummy hash of today's parameters. A tenant is checked only after the password.
   */
  async login (credentials: Credentials): Promise<TokenPair> {
    const { db, tenants } = this.options
    const [user] = await db.read('login', null, sql => sql<Array<{ id: string, password_hash: string }>>`
      select id, password_hash from users where lower(email) = ${normalizeEmail(credentials.email)} and deleted_at is null`)
    const matches = await verifyPassword(credentials.password, user?.password_hash ?? await dummyHash())
    if (user === undefined || !matches) throw badCredentials()

    let tenantId: string | null = null
    if (credentials.tenant !== undefined) {
      // an unknown tenant and one the user is not a member of answer the same 404
      const tenant = await tenants.loadTenant(credentials.tenant.toLowerCase())
      const role = tenant === null ? null : await tenants.loadRole(tenant.id, user.id)
      if (tenant === null || role === null) throw new AppError('tenant_not_found')
      tenantId = tenant.id
    }

    const rehash = needsRehash(user.password_hash) ? await hashPassword(credentials.password) : null
    const refreshToken = await db.transaction(null, async tx => {
      if (rehash !== null) await tx`update users set password_hash = ${rehash}, updated_at = now() where id = ${user.id}`
      return this.storeRefreshToken(tx, user.id, uuidv7(), tenantId)
    })
    return this.pair(user.id, tenantId, refreshToken)
  }

  /** Spends the presented refresh token and answers a new pair bound like the family. */
  async refresh (presented: string): Promise<TokenPair> {
    const hash = hashRefreshToken(presented)
    const outcome = await this.options.db.transaction(null, async (tx): Promise<RefreshOutcome> => {
      const [row] = await tx<PresentedToken[]>`
        select r.id, r.user_id, r.family_id, r.tenant_id,
          r.spent_at is not null as spent, r.spent_at > now() - make_interval(secs => ${REFRESH_GRACE_S}) as in_grace,
          r.revoked_at is not null as revoked,
          r.expires_at <= now() as expired, u.deleted_at is not null as user_deleted
        from refresh_tokens r join users u on u.id = r.user_id
        where r.token_hash = ${hash}
        for update of r`
      if (row === undefined) return { kind: 'invalid' }
      const successor = successorRefreshToken(presented, this.options.successorKey)
      if (row.spent && row.in_grace && !row.revoked && !row.user_deleted &&
        await this.isLive(tx, successor.hash, row.family_id)) {
        return { kind: 'rotated', userId: row.user_id, tenantId: row.tenant_id, token: successor.token }
      }
      if (row.spent) {
        // committed with the 401: the revocation must outlive this request
        if (!row.revoked) await this.revokeFamily(tx, row.family_id)
        return { kind: 'reused', userId: row.user_id, familyId: row.family_id }
      }
      if (row.revoked || row.expired || row.user_deleted) return { kind: 'invalid' }
      await tx`update refresh_tokens set spent_at = now() where id = ${row.id}`
      const token = await this.storeRefreshToken(tx, row.user_id, row.family_id, row.tenant_id, successor)
      return { kind: 'rotated', userId: row.user_id, tenantId: row.tenant_id, token }
    })
    if (outcome.kind === 'reused') {
      this.options.log.warn({ family_id: outcome.familyId, user_id: outcome.userId }, 'spent refresh token presented: family revoked')
    }
    if (outcome.kind !== 'rotated') throw badRefreshToken()
    return this.pair(outcome.userId, outcome.tenantId, outcome.token)
  }

  /** Revokes the family of the presented token; an unknown token changes nothing and is not an error. */
  async logout (presented: string): Promise<void> {
    const hash = hashRefreshToken(presented)
    await this.options.db.transaction(null, tx => tx`
      update refresh_tokens set revoked_at = now()
      where family_id = (select family_id from refresh_tokens where token_hash = ${hash}) and revoked_at is null`)
  }

  private async revokeFamily (tx: TransactionSql, familyId: string): Promise<void> {
    await tx`update refresh_tokens set revoked_at = now() where family_id = ${familyId} and revoked_at is null`
  }

  /** The token of this hash is in the family, unspent, unrevoked and unexpired. */
  private async isLive (tx: TransactionSql, hash: Buffer, familyId: string): Promise<boolean> {
    const [row] = await tx`select 1 from refresh_tokens
      where token_hash = ${hash} and family_id = ${familyId} and spent_at is null and revoked_at is null and expires_at > now()`
    return row !== undefined
  }

  private async storeRefreshToken (
    tx: TransactionSql, userId: string, familyId: string, tenantId: string | null, { token, hash }: NewRefreshToken = newRefreshToken()
  ): Promise<string> {
    await tx`insert into refresh_tokens (user_id, family_id, token_hash, tenant_id, expires_at)
      values (${userId}, ${familyId}, ${hash}, ${tenantId}, now() + make_interval(secs => ${this.options.refreshTtlSeconds}))`
    return token
  }

  private pair (userId: string, tenantId: string | null, refreshToken: string): TokenPair {
    const access = this.options.tokens.issue(userId, tenantId)
    return { access_token: access.token, refresh_token: refreshToken, token_type: 'Bearer', expires_in: access.expiresIn }
  }
}
