import { request, type IncomingMessage } from 'node:http'

export type Answer = { status: number, body: string } | { error: string }

/** One request: sent to a base URL on a fresh connection. */
export interface Call {
  method: 'GET' | 'POST'
  path: string
  headers?: Record<string, string>
  /** sent as JSON; a POST whose body is given in two parts is sent by `trickle` */
  body?: object
  timeoutMs?: number
}

const failure = (error: Error): Answer => ({ error: (error as NodeJS.ErrnoException).code ?? error.message })

/** Settles with the whole body and status, or with the error that cut the response short. */
function answerOf (response: IncomingMessage, resolve: (answer: Answer) => void): void {
  let text = ''
  response.on('data', (chunk: Buffer) => { text += chunk.toString('utf8') })
  response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }))
  response.on('error', error => resolve(failure(error)))
}

/** One request on a fresh connection (no keep-alive pool to outlive the server), bounded by a timeout. */
export async function call (baseUrl: string, { method, path, headers = {}, body, timeoutMs = 10_000 }: Call): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  return await new Promise(resolve => {
    const req = request(`${baseUrl}${path}`, {
      method,
      agent: false,
      timeout: timeoutMs,
      headers: { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...headers }
    }, response => { answerOf(response, resolve) })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', error => resolve(failure(error)))
    req.end(payload)
  })
}

/** A call that must succeed with this status; its body parsed. */
export async function expectJson<T> (baseUrl: string, status: number, what: Call): Promise<T> {
  const answer = await call(baseUrl, what)
  if (!('status' in answer) || answer.status !== status) {
    throw new Error(`${what.method} ${what.path}: expected ${status}, got ${JSON.stringify(answer)}`)
  }
  return JSON.parse(answer.body) as T
}

/**
 * A POST whose JSON body is sent in two parts: the headers and the first half at once, the rest
 * when `rest` resolves. The request is in flight on the server the whole time in between.
 */
export async function trickle (baseUrl: string, path: string, headers: Record<string, string>, body: object, rest: Promise<unknown>): Promise<Answer> {
  const payload = Buffer.from(JSON.stringify(body))
  const half = Math.floor(payload.length / 2)
  return await new Promise(resolve => {
    const req = request(`${baseUrl}${path}`, {
      method: 'POST',
      agent: false,
      timeout: 30_000,
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(payload.length) }
    }, response => { answerOf(response, resolve) })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', error => resolve(failure(error)))
    req.flushHeaders()
    req.write(payload.subarray(0, half))
    rest.then(() => req.end(payload.subarray(half)), () => req.destroy(new Error('the rest of the body was never sent')))
  })
}
