import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'

/** The password of every user these helpers register, unless a test gives its own. */
export const PASSWORD = 'correct horse battery staple'

export interface TestUser {
  id: string
  email: string
  name: string
  password: string
}

export interface Tokens {
  access_token: string
  refresh_token: string
  token_type: 'Bearer'
  expires_in: number
}

/** A fresh user through POST /v1/auth/register (a unique email unless given); throws unless 201. */
export async function registerUser (app: FastifyInstance, overrides: Partial<Omit<TestUser, 'id'>> = {}): Promise<TestUser> {
  const input = {
    email: overrides.email ?? `user-${randomBytes(6).toString('hex')}@example.test`,
    password: overrides.password ?? PASSWORD,
    name: overrides.name ?? 'Test User'
  }
  const response = await app.inject({ method: 'POST', url: '/v1/auth/register', payload: input })
  if (response.statusCode !== 201) throw new Error(`register ${input.email}: ${response.statusCode} ${response.body}`)
  const { user } = response.json() as { user: { id: string, email: string, name: string } }
  return { id: user.id, email: user.email, name: user.name, password: input.password }
}

/** POST /v1/auth/login, optionally bound to a tenant (slug or id); throws unless 200. */
export async function login (app: FastifyInstance, email: string, password: string = PASSWORD, tenant?: string): Promise<Tokens> {
  const payload = tenant === undefined ? { email, password } : { email, password, tenant }
  const response = await app.inject({ method: 'POST', url: '/v1/auth/login', payload })
  if (response.statusCode !== 200) throw new Error(`login ${email}: ${response.statusCode} ${response.body}`)
  return response.json() as Tokens
}

/** The access token of a login with PASSWORD, bound to the tenant when one is named. */
export async function tokenFor (app: FastifyInstance, email: string, tenant?: string): Promise<string> {
  return (await login(app, email, PASSWORD, tenant)).access_token
}

/** Headers that authenticate a request: `{ ...bearer(token), 'x-tenant': 'acme' }`. */
export function bearer (accessToken: string): { authorization: string } {
  return { authorization: `Bearer ${accessToken}` }
}
