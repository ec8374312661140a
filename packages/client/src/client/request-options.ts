// Per-request s3crypt options ride on the command object itself (under a registry symbol, so a
// second copy of this package sees them too); the S3 request never carries them.
import type { EncryptionContext } from '../keyrings/keyring.js';

/**
 * Options for one command sent through `EncryptingS3Client`.
 *
 * @example
 * ```ts
 * const put = await client.send(withS3Crypt(new PutObjectCommand({ Bucket, Key, Body }), { encryptionContext: { tenant: 'acme' } }));
 * await client.send(withS3Crypt(new GetObjectCommand({ Bucket, Key }), { encryptionContext: { tenant: 'acme' }, expectedObjectId: s3cryptInfo(put)!.objectId }));
 * ```
 */
export interface S3CryptRequestOptions {
  /**
   * Caller context bound into the object (format 2) and passed to keyrings; not stored, so every
   * reader must present it again. Keys must not start with `s3crypt:`.
   */
  readonly encryptionContext?: EncryptionContext;
  /** CopyObject: the source's caller context, when it differs from the destination's. */
  readonly sourceEncryptionContext?: EncryptionContext;
  /** GetObject / HeadObject: the identity a previous write returned; anything else is `ERR_OBJECT_ID_MISMATCH`. */
  readonly expectedObjectId?: string;
}

const OPTIONS = Symbol.for('@s3crypt/client request options');

const MAX_CONTEXT_ENTRIES = 16;
const MAX_CONTEXT_TEXT_BYTES = 1024;

function checkContext(context: unknown, name: string): void {
  if (context === undefined) return;
  if (typeof context !== 'object' || context === null || Array.isArray(context)) throw new TypeError(`withS3Crypt: ${name} must be an object of strings`);
  const entries = Object.entries(context);
  if (entries.length > MAX_CONTEXT_ENTRIES) throw new TypeError(`withS3Crypt: ${name} may have at most ${MAX_CONTEXT_ENTRIES} entries`);
  for (const [key, value] of entries) {
    const sizes = [Buffer.byteLength(key), typeof value === 'string' ? Buffer.byteLength(value) : -1];
    if (sizes.some((size) => size < 1 || size > MAX_CONTEXT_TEXT_BYTES)) throw new TypeError(`withS3Crypt: ${name} keys and values must be strings of 1-${MAX_CONTEXT_TEXT_BYTES} bytes`);
    if (key.startsWith('s3crypt:')) throw new TypeError(`withS3Crypt: ${name} keys starting with "s3crypt:" are reserved`);
  }
}

/**
 * Attaches s3crypt options to a command and returns the same command.
 *
 * @example
 * ```ts
 * await client.send(withS3Crypt(new GetObjectCommand({ Bucket, Key }), { expectedObjectId }));
 * ```
 */
export function withS3Crypt<C extends object>(command: C, options: S3CryptRequestOptions): C {
  checkContext(options.encryptionContext, 'encryptionContext');
  checkContext(options.sourceEncryptionContext, 'sourceEncryptionContext');
  if (options.expectedObjectId !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(options.expectedObjectId)) {
    throw new TypeError('withS3Crypt: expectedObjectId must be an object identity as s3crypt returns it (43 base64url characters)');
  }
  Object.defineProperty(command, OPTIONS, { value: Object.freeze({ ...options }), enumerable: false, configurable: true });
  return command;
}

/** The options attached to a command, or none. */
export function requestOptionsOf(command: object): S3CryptRequestOptions {
  return (command as { [OPTIONS]?: S3CryptRequestOptions })[OPTIONS] ?? {};
}
