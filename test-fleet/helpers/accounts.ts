import { randomBytes } from 'node:crypto'
import { bearer, PASSWORD } from '../../test/helpers/users.ts'
import { expectStatus } from './client.ts'

export interface Account { id: string, email: string }
export interface Member extends Account { token: string }

const unique = (): string => randomBytes(5).toString('hex')

/** POST /v1/auth/register through `baseUrl`. */
export async function register (baseUrl: string, name = 'Fleet User'): Promise<Account> {
  const email = `fleet-${unique()}@example.test`
  const { user } = await expectStatus<{ user: { id: string } }>(`${baseUrl}/v1/auth/register`, 201, {
    method: 'POST', body: { email, password: PASSWORD, name }
  })
  return { id: user.id, email }
}

/** An access token, bound to `tenant` when given. */
export async function accessToken (baseUrl: string, email: string, tenant?: string): Promise<string> {
  const body = tenant === undefined ? { email, password: PASSWORD } : { email, password: PASSWORD, tenant }
  const { access_token: token } = await expectStatus<{ access_token: string }>(`${baseUrl}/v1/auth/login`, 200, { method: 'POST', body })
  return token
}

export interface Tenant { id: string, slug: string, owner: Member }

/** A tenant created by a new owner, who gets a token bound to it. */
export async function createTenant (baseUrl: string): Promise<Tenant> {
  const owner = await register(baseUrl, 'Owner')
  const slug = `fleet-${unique()}`
  const { tenant } = await expectStatus<{ tenant: { id: string } }>(`${baseUrl}/v1/tenants`, 201, {
    method: 'POST', headers: bearer(await accessToken(baseUrl, owner.email)), body: { slug, name: `Fleet ${slug}` }
  })
  return { id: tenant.id, slug, owner: { ...owner, token: await accessToken(baseUrl, owner.email, slug) } }
}

/** A new user added to the tenant with `role` by its owner, with a token bound to it. */
export async function addMember (baseUrl: string, tenant: Tenant, role: 'admin' | 'editor' | 'viewer'): Promise<Member> {
  const user = await register(baseUrl, role)
  await expectStatus(`${baseUrl}/v1/members`, 201, { method: 'POST', headers: bearer(tenant.owner.token), body: { email: user.email, role } })
  return { ...user, token: await accessToken(baseUrl, user.email, tenant.slug) }
}
