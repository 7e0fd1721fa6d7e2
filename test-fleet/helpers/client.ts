/** What a client saw: the status and parsed body, or why no answer came. */
export type Reply = { status: number, body: unknown, headers: Headers } | { status: 0, error: string }

export interface Send {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  headers?: Record<string, string>
  body?: object
  timeoutMs?: number
}

/** One request with fetch (every method), bounded by a timeout; never rejects. */
export async function send (url: string, { method = 'GET', headers = {}, body, timeoutMs = 10_000 }: Send = {}): Promise<Reply> {
  try {
    const response = await fetch(url, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs)
    })
    const text = await response.text()
    let parsed: unknown = text
    try { parsed = text === '' ? undefined : JSON.parse(text) } catch {}
    return { status: response.status, body: parsed, headers: response.headers }
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause
    return { status: 0, error: cause?.code ?? (error as Error).name }
  }
}

/** A request that must answer `status`; its body. */
export async function expectStatus<T> (url: string, status: number, what: Send = {}): Promise<T> {
  const reply = await send(url, what)
  if (reply.status !== status) {
    throw new Error(`${what.method ?? 'GET'} ${url}: expected ${status}, got ${reply.status} ${'error' in reply ? reply.error : JSON.stringify(reply.body)}`)
  }
  return (reply as { body: T }).body
}
