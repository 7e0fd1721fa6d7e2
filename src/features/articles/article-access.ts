import { forbidden } from '../../platform/errors.ts'
import { type Actor, atLeast } from '../tenancy/index.ts'

/**
 * The object rule of API.md: an editor may change, delete, publish or schedule only the articles
 * it authored; admins and owners may act on any.
 */
export function assertMayModifyArticle (actor: Actor, authorId: string): void {
  if (atLeast(actor.role, 'admin') || actor.userId === authorId) return
  throw forbidden('an editor may change only the articles it authored')
}
