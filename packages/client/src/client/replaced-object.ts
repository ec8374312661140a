// A read pins its follow-up requests to the ETag of its first response, so it never mixes two writes.
// A key rewritten in between (a concurrent overwrite, or a key rotation's in-place copy) makes a
// follow-up fail with 412 although the caller set no condition. A plain GET is one response, one
// snapshot, and never fails that way; so the read starts over on the object now stored, instead.
// Only 412s of the client's own pinned requests are marked: a caller's condition fails as usual.

const REPLACED = Symbol('s3crypt.replacedWhileReading');

/** Attempts of one read when the object keeps being replaced under it (then the 412 is the caller's). */
const MAX_ATTEMPTS = 5;

/** The store's 412: a condition of the request (If-Match, CopySourceIfMatch, …) did not hold. */
export function isPreconditionFailed(error: unknown): boolean {
  const e = error as { name?: unknown; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'PreconditionFailed' || e?.$metadata?.httpStatusCode === 412;
}

/** Rethrows `error`, marked when it is a 412 answer to a request pinned by the client itself. */
export function rethrowPinned(error: unknown): never {
  if (isPreconditionFailed(error) && typeof error === 'object' && error !== null && !Object.isFrozen(error)) {
    Object.defineProperty(error, REPLACED, { value: true });
  }
  throw error;
}

/** Runs `read`, again from the start when a pinned request found the object replaced meanwhile. */
export async function restartingWhenReplaced<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS || (error as Record<symbol, unknown> | undefined)?.[REPLACED] !== true) throw error;
    }
  }
}
