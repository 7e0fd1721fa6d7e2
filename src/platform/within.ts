/**
 * The one race of a promise against a timer. The timer is cleared as soon as the promise settles;
 * a rejection that comes after the timeout is absorbed (nothing waits for it any more). Neither
 * function unrefs its timer: the caller is awaiting the answer.
 */

/**
 * Settles as the promise does, or resolves `fallback` when the promise has not settled within ms.
 * One promise, one timer and the two reactions a call: cheap enough for a request's hot path.
 */
export function withinOr<T, const F> (ms: number, fallback: F, promise: Promise<T>): Promise<T | F> {
  return new Promise<T | F>((resolve, reject) => {
    const timer = setTimeout(resolve, ms, fallback)
    promise.then(value => {
      clearTimeout(timer)
      resolve(value)
    }, (error: unknown) => {
      clearTimeout(timer)
      reject(error)
    })
  })
}

const TIMED_OUT: unique symbol = Symbol('timed out')

/** Settles as the promise does, or rejects with `${what} timed out after ${ms} ms` when it has not settled within ms. */
export async function within<T> (ms: number, what: string, promise: Promise<T>): Promise<T> {
  const result = await withinOr(ms, TIMED_OUT, promise)
  if (result === TIMED_OUT) throw new Error(`${what} timed out after ${ms} ms`)
  return result
}
