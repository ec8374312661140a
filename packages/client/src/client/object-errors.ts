// Errors that concern an object say which: bucket, key and version as properties, the object's name
// in the message. Handlers throw plain typed errors; these helpers name the object where it is known.
import type { Readable } from 'node:stream';
import { S3CryptError } from '../errors.js';
import { quoteUntrusted } from '../untrusted-text.js';
import { objectName } from './context.js';

/** The object an error concerns. */
export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string | undefined;
}

/**
 * The object a command input names (`Bucket`, `Key`, `VersionId`), or `undefined` if it names none;
 * `reportedVersionId` (the store's answer) stands in when the input names no version.
 *
 * @example
 * ```ts
 * const object = objectRefOf(input, response.VersionId); // { bucket, key, versionId }
 * ```
 */
export function objectRefOf(input: unknown, reportedVersionId?: string): ObjectRef | undefined {
  const { Bucket, Key, VersionId } = (input ?? {}) as { Bucket?: unknown; Key?: unknown; VersionId?: unknown };
  if (typeof Bucket !== 'string' || typeof Key !== 'string') return undefined;
  const versionId = typeof VersionId === 'string' && VersionId.length > 0 ? VersionId : reportedVersionId;
  return { bucket: Bucket, key: Key, ...(versionId ? { versionId } : {}) };
}

/**
 * Names `object` on an s3crypt error (of any copy of this package) that names no object yet: sets
 * `bucket`, `key`, `versionId`, and adds the object to the message unless the message names it
 * already. The error is changed in place and returned; anything else is returned untouched.
 *
 * @example
 * ```ts
 * catch (error) { throw namingObject(error, { bucket, key }); }
 * ```
 */
export function namingObject(error: unknown, object: ObjectRef | undefined): unknown {
  if (!object || !(error instanceof S3CryptError) || error.bucket !== undefined) return error;
  const { bucket, key, versionId } = object;
  Object.defineProperties(error, {
    bucket: { value: bucket, enumerable: true },
    key: { value: key, enumerable: true },
    ...(versionId !== undefined ? { versionId: { value: versionId, enumerable: true } } : {}),
  });
  const name = objectName(bucket, key);
  if (!error.message.includes(name)) {
    const before = error.message;
    error.message = `${before} (object ${name}${versionId !== undefined ? ` version ${quoteUntrusted(versionId)}` : ''})`;
    // The stack's first line was written from the old message; loggers print the stack.
    const head = `${error.name}: ${before}`;
    if (error.stack?.startsWith(head)) error.stack = `${error.name}: ${error.message}${error.stack.slice(head.length)}`;
  }
  return error;
}

/**
 * The rejection of `result`, if any, names the object of the command `input`.
 *
 * @example
 * ```ts
 * return rejectionNamingObject(handler(ctx, command.input, options), command.input);
 * ```
 */
export function rejectionNamingObject<T>(result: Promise<T>, input: unknown): Promise<T> {
  return result.catch((error: unknown) => {
    throw namingObject(error, objectRefOf(input));
  });
}

/**
 * Errors `stream` emits (a tampered segment found while the caller reads the body, a short store
 * response) name `object`. The stream is returned.
 *
 * @example
 * ```ts
 * const body = streamNamingObject(plaintext, { bucket, key, versionId });
 * ```
 */
export function streamNamingObject<T extends Readable>(stream: T, object: ObjectRef): T {
  // Every error a Node stream emits passes through _destroy first, whether it came from the stream's
  // own transform or from a pipeline; naming it there changes nothing else about the stream.
  const destroy = stream._destroy.bind(stream);
  stream._destroy = (error: Error | null, callback: (error?: Error | null) => void) => {
    destroy(error === null ? null : (namingObject(error, object) as Error), callback);
  };
  return stream;
}
