// Which objects without an envelope a client may read as plaintext: only those the caller selected,
// by bucket and key prefix or by a function. Anything else without an envelope is refused.
import type { AuditScope } from '../audit/scope.js';
import { EnvelopeError, NotEncryptedError, type S3CryptError } from '../errors.js';
import { quoteUntrusted } from '../untrusted-text.js';
import { objectName } from './context.js';

/**
 * The objects that may be read as plaintext when they carry no s3crypt envelope: a list of buckets,
 * each optionally narrowed to a key prefix (no prefix = the whole bucket), or a function.
 *
 * @example
 * ```ts
 * const legacy: PlaintextReadSelection = [{ bucket: 'archive', prefix: 'before-2026/' }];
 * const byRule: PlaintextReadSelection = (bucket, key) => bucket === 'archive' && key.endsWith('.csv');
 * ```
 */
export type PlaintextReadSelection = readonly { readonly bucket: string; readonly prefix?: string }[] | ((bucket: string, key: string) => boolean);

/** The checked selection as one predicate. */
export type PlaintextReadPolicy = (bucket: string, key: string) => boolean;

const NOTHING: PlaintextReadPolicy = () => false;

/** Validates the `allowPlaintextReads` option at construction; API misuse is a TypeError. */
export function plaintextReadPolicy(option: unknown): PlaintextReadPolicy {
  if (option === undefined) return NOTHING;
  if (typeof option === 'function') {
    const select = option as (bucket: string, key: string) => unknown;
    return (bucket, key) => select(bucket, key) === true;
  }
  if (!Array.isArray(option)) {
    throw new TypeError(
      'EncryptingS3Client: allowPlaintextReads no longer takes a boolean; list the objects that may be read as plaintext, ' +
        "e.g. [{ bucket: 'archive', prefix: 'legacy/' }] (no prefix = the whole bucket), or pass (bucket, key) => boolean",
    );
  }
  const entries = option.map((entry: unknown, index) => {
    const { bucket, prefix } = (entry ?? {}) as { bucket?: unknown; prefix?: unknown };
    if (typeof bucket !== 'string' || bucket.length === 0 || (prefix !== undefined && typeof prefix !== 'string')) {
      throw new TypeError(`EncryptingS3Client: allowPlaintextReads[${index}] must be { bucket: string; prefix?: string }`);
    }
    return { bucket, prefix: prefix ?? '' };
  });
  return (bucket, key) => entries.some((entry) => entry.bucket === bucket && key.startsWith(entry.prefix));
}

/** The refusal of an object that carries no envelope and lies outside the plaintext selection. */
export function notEncrypted(bucket: string, key: string): NotEncryptedError {
  return new NotEncryptedError(
    `${objectName(bucket, key)} has no s3crypt envelope; it was not written by s3crypt (list it in allowPlaintextReads to read it as plaintext)`,
  );
}

/**
 * Fails unless an object whose metadata has no envelope (the caller checked) may be read as plaintext: it must lie inside
 * the selection, and carry no other `s3crypt*` metadata (an envelope stored under another name is an
 * attack that would otherwise turn ciphertext into "plaintext"). With `audit`, the decision is
 * recorded as a `plaintext-read` event; the promise returned resolves when the buffer had room.
 */
export function checkPlaintextRead(
  policy: PlaintextReadPolicy,
  bucket: string,
  key: string,
  metadata: Readonly<Record<string, string>> | undefined,
  audit?: { readonly scope: AuditScope | undefined; readonly versionId: string | undefined },
): Promise<void> | undefined {
  let refusal: S3CryptError | undefined;
  const stray = Object.keys(metadata ?? {}).find((name) => name.toLowerCase().startsWith('s3crypt'));
  if (stray !== undefined) {
    refusal = new EnvelopeError('ERR_ENVELOPE_MALFORMED', `${objectName(bucket, key)} has no s3crypt envelope but carries s3crypt metadata ${quoteUntrusted(stray)}; refusing to read it as plaintext`);
  } else if (!policy(bucket, key)) {
    refusal = notEncrypted(bucket, key);
  }
  // The decision is recorded either way; only an allowed read waits for room in a full audit buffer.
  const recorded = audit?.scope?.plaintextRead(bucket, key, audit.versionId, refusal);
  if (refusal) {
    recorded?.catch(() => undefined);
    throw refusal;
  }
  return recorded;
}
