import { createServer } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'

export interface OtlpSink {
  /** the base URL for OTEL_EXPORTER_OTLP_ENDPOINT */
  url: string
  /** export requests and bytes received so far */
  received: () => { exports: number, bytes: number }
  close: () => Promise<void>
}

/**
 * A local OTLP/HTTP receiver that reads each export whole, counts it and answers success without
 * decoding, as a collector on the same host would: the traced scenario pays for making, encoding
 * and sending its spans, not for a backend.
 */
export async function startOtlpSink (): Promise<OtlpSink> {
  let exports = 0
  let bytes = 0
  const server = createServer((request, response) => {
    request.on('data', (chunk: Buffer) => { bytes += chunk.length })
    request.on('end', () => {
      exports++
      response.writeHead(200, { 'content-type': request.headers['content-type'] ?? 'application/x-protobuf' }).end()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    received: () => ({ exports, bytes }),
    close: async () => {
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
    }
  }
}
