/**
 * Options of {@link withDeadline}.
 *
 * @example
 * ```ts
 * const options: DeadlineOptions<Uint8Array> = {
 *   signal: request.signal,
 *   timeoutMs: 10_000,
 *   onTimeout: (cause) => new KmsError('ERR_KMS_UNAVAILABLE', keyId, 'the KMS did not answer in time', { cause }),
 *   discard: (dataKey) => dataKey.fill(0),
 * };
 * ```
 */
export interface DeadlineOptions<T> {
  /** The caller's signal (a keyring request's `signal`). Its abort rejects with `signal.reason`. */
  readonly signal?: AbortSignal | undefined;
  /** How long the whole operation may take, in milliseconds, from the call of {@link withDeadline}. */
  readonly timeoutMs: number;
  /** The error to reject with when time is up; `cause` is the timeout's `TimeoutError`. */
  readonly onTimeout: (cause: unknown) => Error;
  /** Releases a result that arrives after the deadline already settled the call, e.g. zeroes a data key. */
  readonly discard?: (late: T) => void;
}

/**
 * Runs a keyring operation (one or more KMS requests) under the caller's `signal` and a timeout,
 * combined into the one signal `operation` receives and should pass to its client library. Settles
 * as soon as either fires, even when the library ignores the signal: a caller's abort rejects with
 * the signal's `reason` (a `DOMException` named `AbortError` unless the caller gave another), a
 * timeout with `onTimeout`'s error. A result arriving after that is handed to `discard`.
 *
 * @example
 * ```ts
 * return withDeadline(
 *   { signal: request.signal, timeoutMs: this.#timeoutMs, onTimeout: (cause) => unavailable(cause), discard: (key) => key.fill(0) },
 *   (signal) => this.#decrypt(request, signal),
 * );
 * ```
 */
export async function withDeadline<T>(options: DeadlineOptions<T>, operation: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { signal: callerSignal, timeoutMs, onTimeout, discard } = options;
  callerSignal?.throwIfAborted();
  const controller = new AbortController();
  let timedOut = false;
  const onCallerAbort = () => controller.abort(callerSignal?.reason);
  callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException(`the operation did not finish within ${timeoutMs} ms`, 'TimeoutError'));
  }, timeoutMs);

  let settled = false;
  try {
    return await new Promise<T>((resolve, reject) => {
      controller.signal.addEventListener('abort', () => {
        settled = true;
        reject(timedOut ? onTimeout(controller.signal.reason) : controller.signal.reason);
      }, { once: true });
      Promise.resolve()
        .then(() => operation(controller.signal))
        .then(
          (value) => {
            if (settled) discard?.(value);
            else resolve(value);
          },
          (error: unknown) => {
            if (!settled) reject(error);
          },
        );
    });
  } finally {
    settled = true;
    clearTimeout(timer);
    callerSignal?.removeEventListener('abort', onCallerAbort);
  }
}
