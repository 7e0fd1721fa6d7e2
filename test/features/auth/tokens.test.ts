import t from 'tap'
import { randomUUID } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import { AccessTokens, keyIdOf } from '../../../src/features/auth/tokens.ts'
import { AppError } from '../../../src/platform/errors.ts'
import { hashPassword, needsRehash, verifyPassword } from '../../../src/features/auth/passwords.ts'
import { hashRefreshToken, newRefreshToken, successorRefreshToken } from '../../../src/features/auth/refresh-tokens.ts'

const secret = 'test-secret-one-0123456789abcdefghijkl'
const olderSecret = 'test-secret-old-0123456789abcdefghijkl'
const userId = '01900000-0000-7000-8000-000000000001'
const tenantId = '01900000-0000-7000-8000-0000000000aa'

const tokens = new AccessTokens({ secrets: [secret], ttlSeconds: 900 })

function rejection (fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    return error instanceof AppError ? error.code : `not an AppError: ${String(error)}`
  }
  return 'accepted'
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const claims = () => ({ sub: userId, jti: randomUUID() })

t.test('an issued token verifies with its claims; tid only when bound', async tt => {
  const issued = tokens.issue(userId)
  tt.equal(issued.expiresIn, 900)
  const verified = tokens.verify(issued.token)
  tt.equal(verified.sub, userId)
  tt.type(verified.jti, 'string')
  tt.equal(verified.exp - verified.iat, 900)
  tt.equal(verified.tid, undefined)
  tt.equal(tokens.verify(tokens.issue(userId, tenantId).token).tid, tenantId)
  const header = JSON.parse(Buffer.from(issued.token.split('.')[0] as string, 'base64url').toString())
  tt.same(header, { alg: 'HS256', typ: 'JWT', kid: keyIdOf(secret) })
})

t.test('two tokens of one user differ (jti)', async tt => {
  tt.not(tokens.issue(userId).token, tokens.issue(userId).token)
})

t.test('key rotation: the first secret signs, every listed secret verifies, a dropped one does not', async tt => {
  const before = new AccessTokens({ secrets: [olderSecret], ttlSeconds: 900 })
  const rotated = new AccessTokens({ secrets: [secret, olderSecret], ttlSeconds: 900 })
  const after = new AccessTokens({ secrets: [secret], ttlSeconds: 900 })
  const oldToken = before.issue(userId).token
  tt.equal(rotated.verify(oldToken).sub, userId, 'a token of the older secret still verifies')
  tt.equal(after.verify(rotated.issue(userId).token).sub, userId, 'the new secret signs')
  tt.equal(rejection(() => after.verify(oldToken)), 'unauthenticated', 'once the old secret is dropped, its tokens fail')
})

t.test('a tampered signature or payload is refused', async tt => {
  const [header, payload, signature] = tokens.issue(userId).token.split('.') as [string, string, string]
  const flipped = (signature.startsWith('A') ? 'B' : 'A') + signature.slice(1)
  tt.equal(rejection(() => tokens.verify(`${header}.${payload}.${flipped}`)), 'unauthenticated')
  const otherUser = base64url({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: '01900000-0000-7000-8000-000000000002' })
  tt.equal(rejection(() => tokens.verify(`${header}.${otherUser}.${signature}`)), 'unauthenticated')
})

t.test('an expired token is token_expired, once its signature is good', async tt => {
  const signPast = createSigner({ key: secret, algorithm: 'HS256', kid: keyIdOf(secret), expiresIn: 60_000, clockTimestamp: Date.now() - 3_600_000 })
  tt.equal(rejection(() => tokens.verify(signPast(claims()))), 'token_expired')
  const forgedPast = createSigner({ key: 'another-secret-0123456789abcdefghijk', algorithm: 'HS256', kid: keyIdOf(secret), expiresIn: 60_000, clockTimestamp: Date.now() - 3_600_000 })
  tt.equal(rejection(() => tokens.verify(forgedPast(claims()))), 'unauthenticated', 'a forged expired token says nothing about expiry')
})

t.test('alg none, HS512 and other algorithms are refused: the algorithm is pinned', async tt => {
  const unsigned = `${base64url({ alg: 'none', typ: 'JWT', kid: keyIdOf(secret) })}.${base64url({ ...claims(), iat: 1, exp: 9_999_999_999 })}.`
  tt.equal(rejection(() => tokens.verify(unsigned)), 'unauthenticated', 'alg none')
  const hs512 = createSigner({ key: secret, algorithm: 'HS512', kid: keyIdOf(secret), expiresIn: 60_000 })
  tt.equal(rejection(() => tokens.verify(hs512(claims()))), 'unauthenticated', 'HS512 with the right secret')
  const hs384 = createSigner({ key: secret, algorithm: 'HS384', kid: keyIdOf(secret), expiresIn: 60_000 })
  tt.equal(rejection(() => tokens.verify(hs384(claims()))), 'unauthenticated', 'HS384 with the right secret')
})

t.test('a wrong key is refused, with our kid or its own', async tt => {
  const wrong = 'wrong-secret-0123456789abcdefghijklmno'
  const withOurKid = createSigner({ key: wrong, algorithm: 'HS256', kid: keyIdOf(secret), expiresIn: 60_000 })
  tt.equal(rejection(() => tokens.verify(withOurKid(claims()))), 'unauthenticated')
  const withItsKid = createSigner({ key: wrong, algorithm: 'HS256', kid: keyIdOf(wrong), expiresIn: 60_000 })
  tt.equal(rejection(() => tokens.verify(withItsKid(claims()))), 'unauthenticated')
  const noKid = createSigner({ key: secret, algorithm: 'HS256', expiresIn: 60_000 })
  tt.equal(rejection(() => tokens.verify(noKid(claims()))), 'unauthenticated', 'no kid: refused even with the right secret')
})

t.test('required claims and their shapes', async tt => {
  const sign = createSigner({ key: secret, algorithm: 'HS256', kid: keyIdOf(secret), expiresIn: 60_000 })
  tt.equal(rejection(() => tokens.verify(sign({ sub: userId }))), 'unauthenticated', 'no jti')
  tt.equal(rejection(() => tokens.verify(sign({ jti: randomUUID() }))), 'unauthenticated', 'no sub')
  tt.equal(rejection(() => tokens.verify(sign({ ...claims(), sub: 'admin' }))), 'unauthenticated', 'sub not a uuid')
  tt.equal(rejection(() => tokens.verify(sign({ ...claims(), tid: 'acme' }))), 'unauthenticated', 'tid not a uuid')
  const noExp = createSigner({ key: secret, algorithm: 'HS256', kid: keyIdOf(secret) })
  tt.equal(rejection(() => tokens.verify(noExp(claims()))), 'unauthenticated', 'no exp')
  tt.equal(tokens.verify(sign(claims())).sub, userId, 'the same signer with every claim passes')
})

t.test('garbage is refused', async tt => {
  for (const garbage of ['', 'abc', 'a.b.c', '...', `${'x'.repeat(5000)}.y.z`, 'eyJhbGciOiJIUzI1NiJ9.e30.']) {
    tt.equal(rejection(() => tokens.verify(garbage)), 'unauthenticated', JSON.stringify(garbage.slice(0, 20)))
  }
})

t.test('passwords: argon2id with parameters in the hash, old scrypt hashes verify, rehash on parameter change', async tt => {
  const hash = await hashPassword('correct horse battery staple')
  tt.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/, 'OWASP minimum: 19 MiB, 2 passes')
  tt.notMatch(hash, /correct horse/)
  tt.equal(await verifyPassword('correct horse battery staple', hash), true)
  tt.equal(await verifyPassword('correct horse battery stapler', hash), false)
  tt.not(await hashPassword('correct horse battery staple'), hash, 'a fresh salt each time')
  tt.equal(needsRehash(hash), false)

  const older = await hashPassword('an older password', { ln: 10, r: 8, p: 1 })
  tt.equal(await verifyPassword('an older password', older), true, 'a hash with other parameters still verifies')
  tt.equal(needsRehash(older), true)

  const weakerArgon = await hashPassword('an older password', { m: 8192, t: 1, p: 1 })
  tt.equal(await verifyPassword('an older password', weakerArgon), true, 'an argon2id hash with other parameters verifies')
  tt.equal(needsRehash(weakerArgon), true)
  tt.equal(await verifyPassword('anything', 'not a hash'), false)
  tt.equal(await verifyPassword('anything', '$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), false, 'absurd parameters are refused, not run')
  tt.equal(await verifyPassword('anything', '$scrypt$ln=14,r=8,p=1$c2FsdHNhbHQ$AA'), false, 'a truncated hash never matches')
})

t.test('refresh tokens: 32 random bytes, stored as SHA-256', async tt => {
  const { token, hash } = newRefreshToken()
  tt.match(token, /^[A-Za-z0-9_-]{43}$/)
  tt.equal(hash.length, 32)
  tt.same(hashRefreshToken(token), hash)
  tt.not(newRefreshToken().token, token)
})

t.test('a refresh token successor: the same for the same token and key, unguessable without the key', async tt => {
  const { token } = newRefreshToken()
  const successor = successorRefreshToken(token, secret)
  tt.match(successor.token, /^[A-Za-z0-9_-]{43}$/, 'shaped like any refresh token')
  tt.same(successor.hash, hashRefreshToken(successor.token))
  tt.equal(successorRefreshToken(token, secret).token, successor.token, 'deterministic')
  tt.not(successorRefreshToken(token, olderSecret).token, successor.token, 'keyed')
  tt.not(successorRefreshToken(newRefreshToken().token, secret).token, successor.token, 'one per token')
  tt.not(successor.token, token)
})
