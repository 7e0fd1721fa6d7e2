import { once } from 'node:events'
import { createConnection, createServer, type Socket } from 'node:net'
import type { Teardown } from './app.ts'

/**
 * A loopback TCP proxy in front of one port, for cutting or delaying one client's link to a
 * server (Redis) while other clients keep theirs.
 */
export interface TcpProxy {
  readonly port: number
  /** redis://127.0.0.1:<port> */
  readonly url: string
  /** drops every connection and refuses new ones until restore() */
  cut: () => void
  restore: () => void
  /**
   * From now on, on each connection, the first chunk the client sends that contains `text`
   * (case-insensitive) and everything after it is held back until release()
   */
  holdFrom: (text: string) => void
  /** sends what was held, in order, and stops holding */
  release: () => void
  /** chunks held back so far */
  readonly held: number
}

interface Link { client: Socket, upstream: Socket, holding: boolean, queue: Buffer[] }

export async function startTcpProxy (t: Teardown, targetPort: number): Promise<TcpProxy> {
  const links = new Set<Link>()
  let isCut = false
  let holdText: string | undefined
  let held = 0

  const server = createServer(client => {
    if (isCut) {
      client.destroy()
      return
    }
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort })
    const link: Link = { client, upstream, holding: false, queue: [] }
    links.add(link)
    const close = (): void => {
      links.delete(link)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', close).on('close', close)
    upstream.on('error', close).on('close', close)
    upstream.on('data', chunk => client.write(chunk))
    client.on('data', (chunk: Buffer) => {
      if (!link.holding && holdText !== undefined && chunk.toString('latin1').toLowerCase().includes(holdText)) link.holding = true
      if (link.holding) {
        link.queue.push(chunk)
        held++
      } else {
        upstream.write(chunk)
      }
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address for the proxy')

  t.teardown(async () => {
    for (const link of links) { link.client.destroy(); link.upstream.destroy() }
    server.close()
  })

  return {
    port: address.port,
    url: `redis://127.0.0.1:${address.port}`,
    cut () {
      isCut = true
      for (const link of links) { link.client.destroy(); link.upstream.destroy() }
    },
    restore () { isCut = false },
    holdFrom (text: string) { holdText = text.toLowerCase() },
    release () {
      holdText = undefined
      for (const link of links) {
        link.holding = false
        for (const chunk of link.queue.splice(0)) link.upstream.write(chunk)
      }
    },
    get held () { return held }
  }
}
