import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Role } from '../../src/features/tenancy/permissions.ts'
import { bearer, registerUser, tokenFor, type TestUser } from './users.ts'

/** Settings for apps whose tests sign many users in from one address. */
export const relaxedAuthLimits = { AUTH_RATE_LIMIT_PER_IP: '100000', AUTH_RATE_LIMIT_PER_EMAIL: '100000' }

export interface TestMember extends TestUser { role: Role, token: string }
export interface TestTenant {
  id: string
  slug: string
  owner: TestMember
  admin: TestMember
  editor: TestMember
  viewer: TestMember
}

const unique = () => randomBytes(5).toString('hex')

/**
 * A tenant made through the API: its owner creates it and adds an admin, an editor and a viewer;
 * every member gets a token bound to the tenant.
 */
export async function createTenant (app: FastifyInstance, slug = `t-${unique()}`): Promise<TestTenant> {
  const owner = await registerUser(app, { name: 'Owner' })
  const ownerToken = await tokenFor(app, owner.email)
  const created = await app.inject({ method: 'POST', url: '/v1/tenants', headers: bearer(ownerToken), payload: { slug, name: `Tenant ${slug}` } })
  if (created.statusCode !== 201) throw new Error(`create tenant failed: ${created.statusCode} ${created.body}`)
  const { tenant } = created.json() as { tenant: { id: string } }
  const members: Partial<Record<Role, TestMember>> = {
    owner: { ...owner, role: 'owner', token: await tokenFor(app, owner.email, slug) }
  }
  for (const role of ['admin', 'editor', 'viewer'] as const) {
    const user = await registerUser(app, { name: role[0]!.toUpperCase() + role.slice(1) })
    const added = await app.inject({
      method: 'POST', url: '/v1/members', headers: { ...bearer(members.owner!.token) }, payload: { email: user.email, role }
    })
    if (added.statusCode !== 201) throw new Error(`add member failed: ${added.statusCode} ${added.body}`)
    members[role] = { ...user, role, token: await tokenFor(app, user.email, slug) }
  }
  return { id: tenant.id, slug, ...(members as Record<Role, TestMember>) }
}

/** A new user added to the tenant by its owner, with a token bound to the tenant. */
export async function addMember (app: FastifyInstance, tenant: TestTenant, role: Role, name = 'Member'): Promise<TestMember> {
  const user = await registerUser(app, { name })
  const added = await app.inject({ method: 'POST', url: '/v1/members', headers: bearer(tenant.owner.token), payload: { email: user.email, role } })
  if (added.statusCode !== 201) throw new Error(`add member failed: ${added.statusCode} ${added.body}`)
  return { ...user, role, token: await tokenFor(app, user.email, tenant.slug) }
}

/**
 * Turns a flag on for exactly these tenants, through the app's flag store (the same path as
 * PUT /v1/admin/flags); this instance serves the new value once it returns.
 */
export async function enableFeature (app: FastifyInstance, key: string, tenantIds: string[]): Promise<void> {
  await app.flags.put(key, { description: `${key} (test)`, enabled: true, internal_only: false, tenants: tenantIds, percentage: 0 })
}
