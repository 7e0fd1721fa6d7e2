import t from 'tap'
import type { IncomingMessage } from 'node:http'
import { randomRequestUuid, requestIdOf } from '../src/http/request-id.ts'

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const withHeader = (value?: string) => ({ headers: value === undefined ? {} : { 'x-request-id': value } }) as unknown as IncomingMessage

t.test('fresh ids are version 4 UUIDs, all different, across many refills of the random batch', async tt => {
  const seen = new Set<string>()
  let malformed = 0
  for (let i = 0; i < 100_000; i++) {
    const id = randomRequestUuid()
    if (!UUID_V4.test(id)) malformed++
    seen.add(id)
  }
  tt.equal(malformed, 0, 'every id is a v4 UUID with the RFC 9562 variant')
  tt.equal(seen.size, 100_000, 'no id twice')
})

t.test('every hex digit turns up in every random position', async tt => {
  const digits = Array.from({ length: 36 }, () => new Set<string>())
  for (let i = 0; i < 2_000; i++) [...randomRequestUuid()].forEach((c, at) => digits[at]?.add(c))
  const random = digits.filter((set, at) => ![8, 13, 14, 18, 19, 23].includes(at))
  tt.ok(random.every(set => set.size === 16), 'the 30 random positions vary over all 16 digits')
  tt.same([...(digits[19] ?? [])].sort(), ['8', '9', 'a', 'b'], 'the variant digit')
})

t.test('an incoming X-Request-Id is kept when it is a sane token, replaced otherwise', async tt => {
  tt.equal(requestIdOf(withHeader('edge-7f3a:1')), 'edge-7f3a:1')
  tt.match(requestIdOf(withHeader('has space')), UUID_V4)
  tt.match(requestIdOf(withHeader('x'.repeat(129))), UUID_V4)
  tt.match(requestIdOf(withHeader()), UUID_V4)
})
