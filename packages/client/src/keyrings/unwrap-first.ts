import type { EncryptedDataKey } from './keyring.js';

/**
 * The usual `onDecrypt` loop of a keyring: tries `unwrap` on each candidate in order and resolves the
 * first data key it yields. If every candidate fails, rejects with the first failure as `toError`
 * maps it; a failure mapped to `undefined` means "not this keyring's after all" and is skipped.
 * Resolves `undefined` when there is nothing to try. Once `signal` is aborted it tries nothing more
 * and rejects with the signal's reason, whatever the failure it caused.
 *
 * @example
 * ```ts
 * async onDecrypt({ context, encryptedDataKeys, signal }: DecryptRequest) {
 *   const mine = encryptedDataKeys.filter((edk) => edk.providerId === 'my-kms' && edk.keyId === this.keyId);
 *   return unwrapFirst(mine, (edk) => this.#decrypt(edk, context, signal), (error, edk) => toKmsError(error, edk.keyId), signal);
 * }
 * ```
 */
export async function unwrapFirst(
  candidates: readonly EncryptedDataKey[],
  unwrap: (edk: EncryptedDataKey) => Promise<Uint8Array>,
  toError: (error: unknown, edk: EncryptedDataKey) => Error | undefined,
  signal?: AbortSignal,
): Promise<Uint8Array | undefined> {
  let firstFailure: Error | undefined;
  for (const edk of candidates) {
    signal?.throwIfAborted();
    try {
      return await unwrap(edk);
    } catch (error) {
      signal?.throwIfAborted();
      firstFailure ??= toError(error, edk);
    }
  }
  if (firstFailure) throw firstFailure;
  return undefined;
}
