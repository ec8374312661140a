/**
 * Every failure s3crypt reports about data, keys or key services is an {@link S3CryptError} with a
 * stable `code`. Branch on `code` (or `instanceof`, which holds across copies of this package), never
 * on message text. Messages never contain key material and, for decryption failures, never say which
 * internal check failed. An error about an object carries its `bucket`, `key` and `versionId`, and
 * its message names the object.
 *
 * API misuse (a wrong option type, an unsupported command) is a plain `TypeError` instead.
 */

// The identity every copy of this package shares: each error class's prototype carries its kind
// under this registered symbol. Kinds are part of the public contract and never change.
const ERROR_BRAND = Symbol.for('@s3crypt/client.error');

function brand(errorClass: { readonly prototype: object }, kind: string): void {
  Object.defineProperty(errorClass.prototype, ERROR_BRAND, { value: kind });
}

/**
 * All error codes, as a string-literal union so `switch (err.code)` narrows.
 *
 * @example
 * ```ts
 * switch ((err as S3CryptError).code) {
 *   case 'ERR_DECRYPTION_FAILED': return quarantine(key);
 *   case 'ERR_KMS_UNAVAILABLE': return retryLater();
 * }
 * ```
 */
export type S3CryptErrorCode =
  // Object and envelope format
  | 'ERR_NOT_ENCRYPTED'
  | 'ERR_ENVELOPE_MALFORMED'
  | 'ERR_ENVELOPE_TOO_LARGE'
  | 'ERR_UNSUPPORTED_FORMAT_VERSION'
  | 'ERR_KEY_COMMITMENT_MISMATCH'
  | 'ERR_DECRYPTION_FAILED'
  | 'ERR_OBJECT_TRUNCATED'
  | 'ERR_OBJECT_MALFORMED'
  | 'ERR_BODY_LENGTH_MISMATCH'
  | 'ERR_HEADER_AUTH_FAILED'
  | 'ERR_SIGNATURE_INVALID'
  | 'ERR_OBJECT_ID_MISMATCH'
  | 'ERR_RESPONSE_TOO_LARGE'
  | 'ERR_OBJECT_CHANGED'
  // Key policy (checked before any keyring or KMS call)
  | 'ERR_KEY_NOT_ALLOWED'
  | 'ERR_TOO_MANY_ENCRYPTED_KEYS'
  | 'ERR_FORMAT_VERSION_NOT_ALLOWED'
  | 'ERR_UNSIGNED_OBJECT'
  // Keys and keyrings
  | 'ERR_NO_MATCHING_KEY'
  | 'ERR_KEY_UNWRAP_FAILED'
  | 'ERR_KEY_WRAP_FAILED'
  // Customer keys (SSE-C-style per-request keys, checked before any plaintext)
  | 'ERR_CUSTOMER_KEY_REQUIRED'
  | 'ERR_CUSTOMER_KEY_MISMATCH'
  | 'ERR_CUSTOMER_KEY_NOT_APPLICABLE'
  // Multipart state
  | 'ERR_UNKNOWN_UPLOAD'
  | 'ERR_UNKNOWN_PART'
  | 'ERR_PART_OUT_OF_ORDER'
  | 'ERR_UPLOAD_BROKEN'
  // Key management services (used by the kms-* adapter packages)
  | 'ERR_KMS_UNAVAILABLE'
  | 'ERR_KMS_ACCESS_DENIED'
  | 'ERR_KMS_KEY_DISABLED'
  | 'ERR_KMS_KEY_NOT_FOUND'
  | 'ERR_KMS_THROTTLED'
  | 'ERR_KMS_WRONG_KEY'
  | 'ERR_KMS_FAILED'
  // Audit (fail-closed mode)
  | 'ERR_AUDIT_FAILED'
  // The tamper-evident audit log (@s3crypt/audit)
  | 'ERR_AUDIT_LOG_CLOSED'
  | 'ERR_AUDIT_LOG_FAILED'
  | 'ERR_AUDIT_LOG_CORRUPT'
  | 'ERR_AUDIT_LOG_UPLOAD_FAILED'
  // The hierarchical keyring's branch key store (@s3crypt/hierarchical-keyring)
  | 'ERR_BRANCH_KEY_NOT_FOUND'
  | 'ERR_BRANCH_KEY_INVALID'
  | 'ERR_BRANCH_KEY_STORE_FAILED'
  // Objects of the AWS S3 Encryption Client
  | 'ERR_S3EC_DISABLED'
  | 'ERR_S3EC_RANGE_UNAUTHENTICATED'
  | 'ERR_S3EC_WRAPPING_UNSUPPORTED';

/**
 * Base class of every s3crypt error.
 *
 * @example
 * ```ts
 * try {
 *   await client.send(new GetObjectCommand({ Bucket, Key }));
 * } catch (err) {
 *   if (err instanceof S3CryptError) log.warn({ code: err.code }, 'object rejected');
 * }
 * ```
 */
export class S3CryptError extends Error {
  static {
    brand(this, 'S3CryptError');
  }

  readonly code: S3CryptErrorCode;
  /** The bucket of the object the failure concerns, when it concerns one. */
  declare readonly bucket?: string;
  /** The key of the object the failure concerns, when it concerns one. */
  declare readonly key?: string;
  /** The version of that object, when the request named one or the store reported it. */
  declare readonly versionId?: string;

  constructor(code: S3CryptErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }

  /**
   * `instanceof` holds for errors of this kind from any copy of `@s3crypt/client` (a KMS package that
   * resolved its own copy, a bundle), not only this one: every error class carries a kind under
   * `Symbol.for('@s3crypt/client.error')`, and a value is an instance if its prototype chain holds
   * this class's kind. Subclasses defined outside s3crypt keep the ordinary check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    if (!Object.hasOwn(this.prototype, ERROR_BRAND) || (typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
    const kind = (this.prototype as unknown as Record<symbol, unknown>)[ERROR_BRAND];
    for (let proto: unknown = Object.getPrototypeOf(value); proto !== null; proto = Object.getPrototypeOf(proto)) {
      if (Object.hasOwn(proto as object, ERROR_BRAND) && (proto as Record<symbol, unknown>)[ERROR_BRAND] === kind) return true;
    }
    return false;
  }
}

/**
 * The object has no s3crypt envelope (it was not written by s3crypt), and plaintext reads are not allowed.
 *
 * @example
 * ```ts
 * if (err instanceof NotEncryptedError) migrateLater(key);
 * ```
 */
export class NotEncryptedError extends S3CryptError {
  static {
    brand(this, 'NotEncryptedError');
  }

  constructor(message: string) {
    super('ERR_NOT_ENCRYPTED', message);
  }
}

/**
 * The envelope metadata cannot be parsed, or is too large to store.
 *
 * @example
 * ```ts
 * if (err instanceof EnvelopeError && err.code === 'ERR_ENVELOPE_TOO_LARGE') trimMetadata();
 * ```
 */
export class EnvelopeError extends S3CryptError {
  static {
    brand(this, 'EnvelopeError');
  }

  constructor(code: 'ERR_ENVELOPE_MALFORMED' | 'ERR_ENVELOPE_TOO_LARGE', message: string) {
    super(code, message);
  }
}

/**
 * The envelope names a format version or suite this release cannot read.
 *
 * @example
 * ```ts
 * if (err instanceof UnsupportedFormatError) console.error('upgrade @s3crypt/client to read', key);
 * ```
 */
export class UnsupportedFormatError extends S3CryptError {
  static {
    brand(this, 'UnsupportedFormatError');
  }

  constructor(message: string) {
    super('ERR_UNSUPPORTED_FORMAT_VERSION', message);
  }
}

/**
 * The stored bytes failed authentication: a tag did not verify, the key commitment did not match, the
 * object is shorter or longer than its authenticated trailer says, or its structure is impossible.
 * No plaintext from the failing segment is ever released.
 *
 * @example
 * ```ts
 * const body = await response.Body!.transformToByteArray().catch((err) => {
 *   if (err instanceof DecryptionError) alertTampering(key, err.code);
 *   throw err;
 * });
 * ```
 */
export class DecryptionError extends S3CryptError {
  static {
    brand(this, 'DecryptionError');
  }

  constructor(
    code: 'ERR_DECRYPTION_FAILED' | 'ERR_KEY_COMMITMENT_MISMATCH' | 'ERR_OBJECT_TRUNCATED' | 'ERR_OBJECT_MALFORMED' | 'ERR_HEADER_AUTH_FAILED' | 'ERR_SIGNATURE_INVALID',
    message = 'decryption operation failed',
  ) {
    super(code, message);
  }
}

/**
 * The reader's key policy refuses the object before any keyring or KMS call: it names no trusted
 * key-encryption key, carries more wrapped keys than allowed, is of a format version below the
 * minimum, or is not signed by a pinned key where a signature is required (public-key wrapping, or a
 * reader with verification keys).
 *
 * @example
 * ```ts
 * if (err instanceof KeyPolicyError && err.code === 'ERR_KEY_NOT_ALLOWED') alertSecurity(err.message);
 * ```
 */
export class KeyPolicyError extends S3CryptError {
  static {
    brand(this, 'KeyPolicyError');
  }

  constructor(
    code: 'ERR_KEY_NOT_ALLOWED' | 'ERR_TOO_MANY_ENCRYPTED_KEYS' | 'ERR_FORMAT_VERSION_NOT_ALLOWED' | 'ERR_UNSIGNED_OBJECT',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/**
 * The store served an object whose authenticated identity is not the one the caller expected: an
 * older version (rollback), another object, or a different write of the same key.
 *
 * @example
 * ```ts
 * await client.send(withS3Crypt(new GetObjectCommand({ Bucket, Key }), { expectedObjectId })); // throws ObjectIdentityError on rollback
 * ```
 */
export class ObjectIdentityError extends S3CryptError {
  static {
    brand(this, 'ObjectIdentityError');
  }

  constructor(message: string) {
    super('ERR_OBJECT_ID_MISMATCH', message);
  }
}

/**
 * The object changed while a rotation or migration was working on it: a concurrent writer replaced
 * it after it was read (the conditional copy or write was refused), so nothing was overwritten. A
 * rerun handles the new object.
 *
 * @example
 * ```ts
 * if (err instanceof ObjectChangedError) retryLater(); // the new object is rotated on the next run
 * ```
 */
export class ObjectChangedError extends S3CryptError {
  static {
    brand(this, 'ObjectChangedError');
  }

  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_OBJECT_CHANGED', message, options);
  }
}

/**
 * The store answered with more bytes than were asked for. Nothing beyond the request size was buffered.
 *
 * @example
 * ```ts
 * if (err instanceof StoreResponseError) reportMisbehavingStore(err.message);
 * ```
 */
export class StoreResponseError extends S3CryptError {
  static {
    brand(this, 'StoreResponseError');
  }

  constructor(message: string) {
    super('ERR_RESPONSE_TOO_LARGE', message);
  }
}

/**
 * A body yielded more or fewer bytes than its declared length. Nothing was stored.
 *
 * @example
 * ```ts
 * await client.send(new PutObjectCommand({ Bucket, Key, Body: stream, ContentLength: size })); // throws BodyLengthError if stream != size
 * ```
 */
export class BodyLengthError extends S3CryptError {
  static {
    brand(this, 'BodyLengthError');
  }

  constructor(message: string) {
    super('ERR_BODY_LENGTH_MISMATCH', message);
  }
}

/**
 * A data key could not be wrapped or unwrapped by the configured keyring(s).
 *
 * @example
 * ```ts
 * if (err instanceof KeyringError && err.code === 'ERR_NO_MATCHING_KEY') console.error(err.message); // names the object's keys
 * ```
 */
export class KeyringError extends S3CryptError {
  static {
    brand(this, 'KeyringError');
  }

  constructor(
    code: 'ERR_NO_MATCHING_KEY' | 'ERR_KEY_UNWRAP_FAILED' | 'ERR_KEY_WRAP_FAILED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/**
 * A per-request customer key (`SSECustomerKey`, handled client-side) does not fit the object or
 * upload: the object needs one and the request gave none (`ERR_CUSTOMER_KEY_REQUIRED`), the key
 * given is not the one the object or upload was written under (`ERR_CUSTOMER_KEY_MISMATCH`), or the
 * object or upload is not under a customer key at all (`ERR_CUSTOMER_KEY_NOT_APPLICABLE`). Raised
 * before any plaintext is released or sent; the message never contains the key or its fingerprint.
 *
 * @example
 * ```ts
 * if (err instanceof CustomerKeyError && err.code === 'ERR_CUSTOMER_KEY_MISMATCH') return askForTheRightKey(key);
 * ```
 */
export class CustomerKeyError extends S3CryptError {
  static {
    brand(this, 'CustomerKeyError');
  }

  constructor(code: 'ERR_CUSTOMER_KEY_REQUIRED' | 'ERR_CUSTOMER_KEY_MISMATCH' | 'ERR_CUSTOMER_KEY_NOT_APPLICABLE', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * An object written by the AWS S3 Encryption Client that this client may not read as asked: the
 * client has no `s3ec` option (`ERR_S3EC_DISABLED`; reading that format is an explicit opt-in), or a
 * ranged GET asked for bytes that cannot be authenticated (`ERR_S3EC_RANGE_UNAUTHENTICATED`: the
 * format's one tag covers the whole object; read it whole, or opt into `s3ec.unauthenticatedRanges`).
 * Writing in that format: the keyring did not produce exactly one data key wrapped in a way the
 * format can name (`ERR_S3EC_WRAPPING_UNSUPPORTED`: AWS KMS, `S3ecAesKeyring` or `S3ecRsaKeyring`,
 * one of them alone, and no client-side customer key); nothing was stored.
 *
 * @example
 * ```ts
 * if (err instanceof S3ecError && err.code === 'ERR_S3EC_RANGE_UNAUTHENTICATED') body = await readWhole(key);
 * ```
 */
export class S3ecError extends S3CryptError {
  static {
    brand(this, 'S3ecError');
  }

  constructor(code: 'ERR_S3EC_DISABLED' | 'ERR_S3EC_RANGE_UNAUTHENTICATED' | 'ERR_S3EC_WRAPPING_UNSUPPORTED', message: string) {
    super(code, message);
  }
}

/**
 * A multipart command names an upload or part this client did not start or encrypt
 * (`ERR_UNKNOWN_UPLOAD`, `ERR_UNKNOWN_PART`). For uploads in the AWS S3 Encryption Client format,
 * whose one cipher stream runs through every part in order: a part out of order, or a retry whose
 * body differs from the first (`ERR_PART_OUT_OF_ORDER`, nothing sent), or any part or completion
 * after a part failed midway through the stream (`ERR_UPLOAD_BROKEN`: abort the upload and start again).
 *
 * @example
 * ```ts
 * if (err instanceof MultipartStateError) await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
 * ```
 */
export class MultipartStateError extends S3CryptError {
  static {
    brand(this, 'MultipartStateError');
  }

  constructor(code: 'ERR_UNKNOWN_UPLOAD' | 'ERR_UNKNOWN_PART' | 'ERR_PART_OUT_OF_ORDER' | 'ERR_UPLOAD_BROKEN', message: string) {
    super(code, message);
  }
}

/**
 * Codes a key management service adapter maps its vendor's errors onto.
 *
 * @example
 * ```ts
 * const retryable: KmsErrorCode[] = ['ERR_KMS_UNAVAILABLE', 'ERR_KMS_THROTTLED'];
 * ```
 */
export type KmsErrorCode = Extract<S3CryptErrorCode, `ERR_KMS_${string}`>;

/**
 * A key management service refused or failed an operation. `keyId` names the key involved and
 * `cause` carries the vendor's original error.
 *
 * @example
 * ```ts
 * if (err instanceof KmsError && err.code === 'ERR_KMS_KEY_DISABLED') alertOncall(err.keyId);
 * ```
 */
export class KmsError extends S3CryptError {
  static {
    brand(this, 'KmsError');
  }

  readonly keyId: string;

  constructor(code: KmsErrorCode, keyId: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.keyId = keyId;
  }
}

/**
 * In fail-closed audit mode (`audit.whenFull: 'fail-closed'`), the audit sink did not accept the
 * events of an operation, so the operation is reported as failed. A write may nevertheless have
 * stored its object (`stored` is then true, and the error names the object); a read released no
 * plaintext. `cause` carries the sink's error.
 *
 * @example
 * ```ts
 * if (err instanceof AuditError && err.stored) await quarantine(err.bucket!, err.key!, err.versionId);
 * ```
 */
export class AuditError extends S3CryptError {
  static {
    brand(this, 'AuditError');
  }

  /** True when the operation had stored an object before its events failed to be recorded. */
  readonly stored: boolean;

  constructor(message: string, stored: boolean, options?: { cause?: unknown }) {
    super('ERR_AUDIT_FAILED', message, options);
    this.stored = stored;
  }
}
