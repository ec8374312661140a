// Per-request s3crypt options ride on the command object itself (under a registry symbol, so a
// second copy of this package sees them too); the S3 request never carries them.
import type { EncryptionContext } from '../keyrings/keyring.js';
import { resolveS3ecWrite, type S3ecWriteOptions } from './s3ec-options.js';
import { checkRequestParallelReads, type ParallelReadOptions } from '../parallel/options.js';

/**
 * Where SSE-C fields (`SSECustomerKey`, `CopySourceSSECustomerKey`, with their algorithm and MD5)
 * are handled. `'client-side'`: the key is a per-request key-encryption key for the object, and the
 * fields are removed from every request sent to the store (the key never leaves the process).
 * `'store'`: the fields go to the store unchanged (real SSE-C, on top of the client's encryption).
 *
 * @example
 * ```ts
 * const handling: CustomerKeyHandling = 'client-side';
 * ```
 */
export type CustomerKeyHandling = 'client-side' | 'store';

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
  /**
   * Overrides the client's `customerKeys` for this command. UploadPart and CompleteMultipartUpload
   * follow what their CreateMultipartUpload chose.
   */
  readonly customerKeys?: CustomerKeyHandling;
  /**
   * PutObject and CreateMultipartUpload: write this object in the AWS S3 Encryption Client's format
   * V3 (`true`, or `{ instructionFile: true }`), or in s3crypt's (`false`), whatever the client's
   * `s3ec.write` says. The upload's parts and completion follow its CreateMultipartUpload. With S3EC
   * and AWS KMS, `encryptionContext` becomes the object's KMS encryption context (`x-amz-t`), which
   * every reader must present again; S3EC raw keyrings store no context (a TypeError if one is given).
   */
  readonly s3ecWrite?: boolean | S3ecWriteOptions;
  /**
   * GetObject: fetch a large object as several ranged GETs at once, authenticated and decrypted off
   * the calling thread and delivered in order (`true`, or with settings); `false` keeps one GET
   * whatever the client's `parallelReads` says.
   */
  readonly parallelReads?: boolean | ParallelReadOptions;
}

const OPTIONS = Symbol.for('@s3crypt/client request options');

const MAX_CONTEXT_ENTRIES = 16;
const MAX_CONTEXT_TEXT_BYTES = 1024;

/** Fails with a TypeError (naming `where`) unless `context` is a valid caller encryption context. */
export function checkEncryptionContext(context: unknown, name: string, where = 'withS3Crypt'): void {
  if (context === undefined) return;
  if (typeof context !== 'object' || context === null || Array.isArray(context)) throw new TypeError(`${where}: ${name} must be an object of strings`);
  const entries = Object.entries(context);
  if (entries.length > MAX_CONTEXT_ENTRIES) throw new TypeError(`${where}: ${name} may have at most ${MAX_CONTEXT_ENTRIES} entries`);
  for (const [key, value] of entries) {
    const sizes = [Buffer.byteLength(key), typeof value === 'string' ? Buffer.byteLength(value) : -1];
    if (sizes.some((size) => size < 1 || size > MAX_CONTEXT_TEXT_BYTES)) throw new TypeError(`${where}: ${name} keys and values must be strings of 1-${MAX_CONTEXT_TEXT_BYTES} bytes`);
    if (key.startsWith('s3crypt:')) throw new TypeError(`${where}: ${name} keys starting with "s3crypt:" are reserved`);
  }
}

/** Fails with a TypeError (naming `where`) unless `options` are valid request options. */
export function checkRequestOptions(options: S3CryptRequestOptions, where: string): void {
  checkEncryptionContext(options.encryptionContext, 'encryptionContext', where);
  checkEncryptionContext(options.sourceEncryptionContext, 'sourceEncryptionContext', where);
  if (options.expectedObjectId !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(options.expectedObjectId)) {
    throw new TypeError(`${where}: expectedObjectId must be an object identity as s3crypt returns it (43 base64url characters)`);
  }
  if (options.customerKeys !== undefined && options.customerKeys !== 'client-side' && options.customerKeys !== 'store') {
    throw new TypeError(`${where}: customerKeys must be 'client-side' or 'store'`);
  }
  resolveS3ecWrite(options.s3ecWrite, `${where}: s3ecWrite`);
  checkRequestParallelReads(options.parallelReads, where);
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
  checkRequestOptions(options, 'withS3Crypt');
  Object.defineProperty(command, OPTIONS, { value: Object.freeze({ ...options }), enumerable: false, configurable: true });
  return command;
}

/** The options attached to a command, or none. */
export function requestOptionsOf(command: object): S3CryptRequestOptions {
  return (command as { [OPTIONS]?: S3CryptRequestOptions })[OPTIONS] ?? {};
}
