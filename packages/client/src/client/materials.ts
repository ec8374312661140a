// Getting a data key in and out of keyrings: the one seam where keys meet the client, with the checks
// s3crypt does not leave to keyrings (key policy, bounded attempts, key commitment, header tag).
import type { KeyAudit, ReadAudit } from '../audit/scope.js';
import { KeyringError, S3CryptError } from '../errors.js';
import type { Envelope } from '../format/envelope.js';
import { KeySchedule } from '../format/keys.js';
import { checkCommitment, checkHeader } from '../format/object.js';
import { DATA_KEY_LENGTH, type EncryptedDataKey, type EncryptionContext, type Keyring, type KeyringObserver } from '../keyrings/keyring.js';
import { untilAborted } from '../keyrings/until-aborted.js';
import { quoteUntrusted } from '../untrusted-text.js';
import { keyedEnvelope, unsignedPublicKeyOnly, type KeyedObject, type ResolvedKeyPolicy, type UnwrapCandidate } from './key-policy.js';

function asTyped(error: unknown, code: 'ERR_KEY_WRAP_FAILED' | 'ERR_KEY_UNWRAP_FAILED', message: string): S3CryptError {
  return error instanceof S3CryptError ? error : new KeyringError(code, message, { cause: error });
}

/** Failures that mean "this wrapped key does not open this object", as opposed to a service failure. */
const NOT_THIS_KEY = new Set(['ERR_KEY_UNWRAP_FAILED', 'ERR_KEY_COMMITMENT_MISMATCH', 'ERR_KMS_WRONG_KEY']);

/** A caller's abort is theirs to see as is; everything else becomes a typed error. */
function rethrowAbort(error: unknown, signal: AbortSignal | undefined): void {
  if (signal?.aborted && (error === signal.reason || (error as Error | undefined)?.name === 'AbortError')) throw error;
}

/**
 * A fresh data key (or `dataKey`, wrapped for another object) and its wrapped copies. The caller
 * zeroes `dataKey` when done. `audit` records the `generate` (or `wrap`, or for a key rotation in
 * place, `rewrap`) event, success or failure.
 */
export async function wrapDataKey(
  keyring: Keyring,
  context: EncryptionContext,
  dataKey?: Uint8Array,
  signal?: AbortSignal,
  audit?: KeyAudit,
  rotation = false,
): Promise<{ dataKey: Uint8Array; encryptedDataKeys: readonly EncryptedDataKey[] }> {
  const operation = rotation ? 'rewrap' : dataKey ? 'wrap' : 'generate';
  let result;
  try {
    result = await wrapWithKeyring(keyring, context, dataKey, signal, audit?.cacheObserver(context));
  } catch (error) {
    await audit?.keyWrapped(operation, context, { error });
    throw error;
  }
  await audit?.keyWrapped(operation, context, result.encryptedDataKeys);
  return result;
}

async function wrapWithKeyring(
  keyring: Keyring,
  context: EncryptionContext,
  dataKey: Uint8Array | undefined,
  signal: AbortSignal | undefined,
  observer: KeyringObserver | undefined,
): Promise<{ dataKey: Uint8Array; encryptedDataKeys: readonly EncryptedDataKey[] }> {
  let result;
  try {
    signal?.throwIfAborted();
    result = await untilAborted(keyring.onEncrypt({ context, ...(dataKey ? { dataKey } : {}), ...(signal ? { signal } : {}), ...(observer ? { observer } : {}) }), signal, (late) => {
      // A key the keyring generated is zeroed; one the caller gave (a copy's, a rotation's) is theirs.
      if (!dataKey && late?.dataKey instanceof Uint8Array) late.dataKey.fill(0);
    });
  } catch (error) {
    rethrowAbort(error, signal);
    throw asTyped(error, 'ERR_KEY_WRAP_FAILED', 'the keyring failed to wrap the data key');
  }
  /* Precondition: a keyring returns a 32-byte key, the one it was given if any, and at least one wrapped copy. */
  const valid =
    result.dataKey instanceof Uint8Array &&
    result.dataKey.length === DATA_KEY_LENGTH &&
    (!dataKey || Buffer.compare(Buffer.from(result.dataKey), Buffer.from(dataKey)) === 0) &&
    result.encryptedDataKeys.length > 0 &&
    result.encryptedDataKeys.length <= 255;
  if (!valid) {
    if (!dataKey && result.dataKey instanceof Uint8Array) result.dataKey.fill(0);
    throw new KeyringError('ERR_KEY_WRAP_FAILED', 'the keyring returned an invalid data key or no wrapped copies');
  }
  return result;
}

/** An unwrapped, committed and (v2) header-authenticated data key, and the wrapped key it came from. */
export interface UnwrappedKey {
  readonly dataKey: Uint8Array;
  readonly from: UnwrapCandidate;
}

/** One wrapped key through the keyring; `undefined` when the keyring does not hold it. */
async function tryUnwrap(
  keyring: Keyring,
  edk: EncryptedDataKey,
  context: EncryptionContext,
  signal: AbortSignal | undefined,
  observer: KeyringObserver | undefined,
): Promise<Uint8Array | undefined> {
  try {
    signal?.throwIfAborted();
    const dataKey = await untilAborted(keyring.onDecrypt({ context, encryptedDataKeys: [edk], ...(signal ? { signal } : {}), ...(observer ? { observer } : {}) }), signal, (late) => late?.fill(0));
    if (dataKey && dataKey.length !== DATA_KEY_LENGTH) {
      dataKey.fill(0);
      throw new KeyringError('ERR_KEY_UNWRAP_FAILED', 'the keyring returned a data key of the wrong length');
    }
    return dataKey;
  } catch (error) {
    rethrowAbort(error, signal);
    throw asTyped(error, 'ERR_KEY_UNWRAP_FAILED', 'the keyring failed to unwrap the data key');
  }
}

/**
 * Unwraps the envelope's data key under the key policy: only trusted wrapped keys, one keyring call
 * each, at most `maxUnwrapAttempts`. A key that fails its commitment (a forged wrapped key) does not
 * end the search; the first committed key must then authenticate the v2 header, or the object is
 * refused. `object` names the object in messages. `audit` learns the KEKs tried and the one that
 * unwrapped; the read's caller ends it with the outcome.
 */
export async function unwrapDataKey(
  keyring: Keyring,
  policy: ResolvedKeyPolicy,
  envelope: Envelope,
  context: EncryptionContext,
  object: string,
  signal?: AbortSignal,
  audit?: ReadAudit,
): Promise<UnwrappedKey & { readonly keys: KeySchedule }> {
  // One schedule per candidate key: its commitment, header tag and then the object's part keys
  // share HKDF's extract step.
  let candidate: { readonly dataKey: Uint8Array; readonly keys: KeySchedule } | undefined;
  const keysOf = (dataKey: Uint8Array): KeySchedule => {
    if (candidate?.dataKey !== dataKey) candidate = { dataKey, keys: new KeySchedule(dataKey, envelope.messageId) };
    return candidate.keys;
  };
  const checks: KeyChecks = { commits: (dataKey) => checkCommitment(keysOf(dataKey), envelope), authenticates: (dataKey) => checkHeader(keysOf(dataKey), envelope, context) };
  const unwrapped = await unwrapObjectKey(keyring, policy, keyedEnvelope(envelope), checks, context, object, signal, audit);
  return { ...unwrapped, keys: keysOf(unwrapped.dataKey) };
}

/** How a format tells its own data key from a forged one. */
export interface KeyChecks {
  /** Throws when `dataKey` is not the object's key (its key commitment fails): the search goes on. */
  commits(dataKey: Uint8Array): void;
  /** Throws when the committed key does not authenticate the object's header: the object is refused. */
  authenticates?(dataKey: Uint8Array): void;
}

/**
 * {@link unwrapDataKey} for any format: the wrapped keys of `keyed` under the key policy, each
 * candidate checked with `checks`. The S3 Encryption Client reader uses it with its own commitment.
 */
export async function unwrapObjectKey(
  keyring: Keyring,
  policy: ResolvedKeyPolicy,
  keyed: KeyedObject,
  checks: KeyChecks,
  context: EncryptionContext,
  object: string,
  signal?: AbortSignal,
  audit?: ReadAudit,
): Promise<UnwrappedKey> {
  let firstFailure: S3CryptError | undefined;
  const { candidates, unsignedPublicKeyDropped } = policy.candidates(keyed, object);
  audit?.keks(candidates.map((candidate) => candidate.edk));
  for (const candidate of candidates) {
    let dataKey: Uint8Array | undefined;
    try {
      dataKey = await tryUnwrap(keyring, candidate.edk, context, signal, audit?.cacheObserver(context));
      if (!dataKey) continue;
      checks.commits(dataKey);
    } catch (error) {
      dataKey?.fill(0);
      rethrowAbort(error, signal);
      firstFailure ??= error as S3CryptError;
      continue;
    }
    try {
      checks.authenticates?.(dataKey);
    } catch (error) {
      dataKey.fill(0);
      throw error;
    }
    audit?.keks([candidate.edk]);
    return { dataKey, from: candidate };
  }
  // Every key the reader may use failed because it was not the object's key (a decoy): if only an
  // unsigned public-key EDK remained, that is the real story. A service failure stays what it is.
  if (unsignedPublicKeyDropped && (!firstFailure || NOT_THIS_KEY.has(firstFailure.code))) throw unsignedPublicKeyOnly(object, firstFailure);
  if (firstFailure) throw firstFailure;
  const names = keyed.encryptedDataKeys.slice(0, 4).map((edk) => `${quoteUntrusted(edk.providerId)}:${quoteUntrusted(edk.keyId)}`);
  throw new KeyringError('ERR_NO_MATCHING_KEY', `no configured keyring holds any of the keys of ${object} (${names.join(', ')})`);
}
