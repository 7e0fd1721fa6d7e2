import type { Database } from '../../platform/db/database.ts'
import { AppError } from '../../platform/errors.ts'
import type { Loaded } from '../../schemas/common.ts'
import type { AuthUser } from './user-cache.ts'
import type { Me as MeSchema } from './user-schemas.ts'

/** `GET /v1/me`, created_at the Date PostgreSQL returns */
export type Me = Loaded<typeof MeSchema>
type MeUser = Me['user']
type Membership = Me['memberships'][number]

/** the user's columns, and its memberships as json_build_object flattens them */
interface MeRow extends MeUser {
  memberships: Array<Membership['tenant'] & Pick<Membership, 'role'>>
}

/** The authentication cache's miss path: one statement on the global users table. */
export async function loadAuthUser (db: Database, userId: string): Promise<AuthUser> {
  const [row] = await db.read('auth user', null, sql => sql<Array<{ name: string, email: string, is_staff: boolean, deleted: boolean }>>`
    select name, email, is_staff, deleted_at is not null as deleted from users where id = ${userId}`)
  if (row === undefined) return { name: '', email: '', isStaff: false, deleted: true }
  return { name: row.name, email: row.email, isStaff: row.is_staff, deleted: row.deleted }
}

/** The caller's own account, as `GET /v1/me` reads it. */
export class UsersService {
  constructor (private readonly db: Database) {}

  /**
   * The caller and its memberships across tenants, in one statement: user_memberships() is the
   * SECURITY DEFINER function that reads memberships past row-level security for this user only.
   */
  async me (userId: string): Promise<Me> {
    const [row] = await this.db.read('me', null, sql => sql<MeRow[]>`
      select u.id, u.email, u.name, u.is_staff, u.created_at,
        coalesce((select json_agg(json_build_object('id', m.tenant_id, 'slug', m.slug, 'name', m.name, 'role', m.role) order by m.created_at, m.slug)
                  from user_memberships(u.id) m), '[]'::json) as memberships
      from users u
      where u.id = ${userId} and u.deleted_at is null`)
    if (row === undefined) throw new AppError('unauthenticated', { detail: 'the user no longer exists' })
    return {
      user: { id: row.id, email: row.email, name: row.name, is_staff: row.is_staff, created_at: row.created_at },
      memberships: row.memberships.map(m => ({ tenant: { id: m.id, slug: m.slug, name: m.name }, role: m.role }))
    }
  }
}
