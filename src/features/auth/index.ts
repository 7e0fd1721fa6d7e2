/**
 * Accounts and sessions: registration, login, access and refresh tokens, passwords, the user
 * cache. The public entry of the feature: other features, plugins and routes import from here.
 */
export * from './schemas.ts'
export * from './user-schemas.ts'
export { dummyHash, hashPassword, verifyPassword } from './passwords.ts'
export { AuthService, normalizeEmail } from './service.ts'
export { AccessTokens, type AccessClaims } from './tokens.ts'
export { UserCache, type AuthUser } from './user-cache.ts'
export { UsersService, loadAuthUser } from './users.ts'
