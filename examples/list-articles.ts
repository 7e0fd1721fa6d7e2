/**
 * A typed client of the Atrium API in a few lines: openapi-fetch with the types `npm run client`
 * generates (client/atrium.d.ts). Logs in as the demo tenant's viewer, lists the newest articles,
 * then asks for the same page again with its ETag (README, API, Revalidation).
 *
 *   npm start                                  # in another terminal: serves the demo tenant acme
 *   npx tsx examples/list-articles.ts          # ATRIUM_URL=http://127.0.0.1:3000 by default
 */
import createClient from 'openapi-fetch'
import type { paths } from '../client/atrium.d.ts'

const baseUrl = process.env.ATRIUM_URL ?? 'http://127.0.0.1:3000'
const client = createClient<paths>({ baseUrl })

const login = await client.POST('/v1/auth/login', {
  body: { email: 'viewer@acme.example', password: process.env.ATRIUM_PASSWORD ?? 'atrium-demo-password', tenant: 'acme' }
})
if (login.data === undefined) {
  console.error(`login failed: ${login.response.status} ${JSON.stringify(login.error)}`)
  process.exit(1)
}
const authorization = `Bearer ${login.data.access_token}`
console.log(`logged in to acme, token valid for ${login.data.expires_in} s`)

const list = await client.GET('/v1/articles', { params: { query: { limit: 5 } }, headers: { authorization } })
if (list.data === undefined) {
  console.error(`listing failed: ${list.response.status} ${JSON.stringify(list.error)}`)
  process.exit(1)
}
for (const article of list.data.data) {
  console.log(`${article.created_at}  ${article.status.padEnd(9)}  ${article.title}  (by ${article.author.name})`)
}
console.log(`next page: ${list.data.next_cursor === null ? 'none' : `cursor ${list.data.next_cursor}`}`)

const etag = list.response.headers.get('etag')
if (etag !== null) {
  const again = await client.GET('/v1/articles', { params: { query: { limit: 5 } }, headers: { authorization, 'if-none-match': etag } })
  console.log(`same page with If-None-Match ${etag}: ${again.response.status}${again.response.status === 304 ? ' Not Modified, no body' : ''}`)
}
