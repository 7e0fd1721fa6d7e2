import t from 'tap'
import Fastify from 'fastify'
import sensible from '@fastify/sensible'
import { notModified } from '../../src/http/revalidation.ts'

// notModified sets Cache-Control and Vary whole when nothing set them before (every article read
// today); a route or hook that did set them first keeps its values, merged as @fastify/sensible merges.

const app = Fastify()
await app.register(sensible)
app.get('/fresh', async (request, reply) => notModified(request, reply, 'W/"a"') ? reply : { ok: true })
app.get('/preset', async (request, reply) => {
  reply.header('vary', 'Origin')
  reply.header('cache-control', 'max-age=0')
  return notModified(request, reply, 'W/"a"') ? reply : { ok: true }
})
t.teardown(() => app.close())

t.test('nothing set before: the whole values', async tt => {
  const response = await app.inject({ method: 'GET', url: '/fresh' })
  tt.equal(response.headers['cache-control'], 'private, no-cache')
  tt.equal(response.headers.vary, 'Authorization, X-Tenant')
  tt.equal(response.headers.etag, 'W/"a"')
})

t.test('set before: merged, nothing lost', async tt => {
  const response = await app.inject({ method: 'GET', url: '/preset' })
  tt.equal(response.headers['cache-control'], 'max-age=0, private, no-cache')
  tt.equal(response.headers.vary, 'Origin, Authorization, X-Tenant')
  const revalidated = await app.inject({ method: 'GET', url: '/preset', headers: { 'if-none-match': '"a"' } })
  tt.equal(revalidated.statusCode, 304, 'a weak match is a 304 either way')
  tt.equal(revalidated.headers.vary, 'Origin, Authorization, X-Tenant')
})
