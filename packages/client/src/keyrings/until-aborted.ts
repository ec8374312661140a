/**
 * `call`'s result, or the signal's reason as soon as it aborts (at once if it already has): a call
 * that ignores its signal (a custom keyring, a KMS client or a shared load that cannot cancel) cannot
 * hold its caller. A result that arrives after the abort goes to `discard` (to zero a key it
 * carries); a failure after the abort is dropped.
 *
 * @example
 * ```ts
 * const dataKey = await untilAborted(kms.decrypt(wrapped), signal, (late) => late.fill(0));
 * ```
 */
export function untilAborted<T>(call: Promise<T>, signal: AbortSignal | undefined, discard?: (late: T) => void): Promise<T> {
  if (!signal) return call;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    call.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) discard?.(value);
        else resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
