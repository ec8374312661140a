// Verifying one stored object: every byte authenticated exactly as a read would, the plaintext
// discarded (zeroed) as it is produced, and the object's authenticated facts returned.
import type { GetObjectCommandInput } from '@aws-sdk/client-s3';
import type { EncryptingS3Client } from '../client/encrypting-client.js';
import type { SendOptions } from '../client/context.js';
import { objectOperationContext } from '../client/internals.js';
import { namingObject, objectRefOf } from '../client/object-errors.js';
import { restartingWhenReplaced } from '../client/replaced-object.js';
import { checkRequestOptions, type S3CryptRequestOptions } from '../client/request-options.js';
import { authenticateObject } from '../client/verify-object.js';
import { s3ecEncryptedDataKey } from '../format/s3ec/data-key.js';
import type { KekName } from '../rotation/rotate-object.js';

/**
 * The object to verify: bucket, key, version, and the fields a GetObject of it would carry (a
 * client-side customer key, an ETag it must have, the expected bucket owner).
 *
 * @example
 * ```ts
 * const input: VerifyObjectInput = { Bucket: 'b', Key: 'k', VersionId: 'v1' };
 * ```
 */
export type VerifyObjectInput = Pick<
  GetObjectCommandInput,
  'VersionId' | 'IfMatch' | 'SSECustomerAlgorithm' | 'SSECustomerKey' | 'SSECustomerKeyMD5' | 'ExpectedBucketOwner' | 'RequestPayer'
> & { readonly Bucket: string; readonly Key: string };

/**
 * Request options as for a GetObject (`encryptionContext`, `expectedObjectId`, `customerKeys`), and
 * an abort signal.
 *
 * @example
 * ```ts
 * const options: VerifyObjectOptions = { encryptionContext: { tenant: 'acme' }, expectedObjectId, signal: AbortSignal.timeout(60_000) };
 * ```
 */
export interface VerifyObjectOptions extends S3CryptRequestOptions {
  readonly signal?: AbortSignal;
}

/**
 * An object whose every stored byte authenticated, or an object without an envelope that the
 * client's `allowPlaintextReads` lets it read as plaintext (not authenticated: there is nothing to
 * authenticate).
 *
 * @example
 * ```ts
 * const result: VerifyObjectResult = await verifyObject(client, { Bucket: 'b', Key: 'k' });
 * if (result.encrypted) console.log(result.objectId, result.plaintextLength);
 * ```
 */
export type VerifyObjectResult =
  | {
      readonly encrypted: true;
      readonly formatVersion: number;
      /** The authenticated object identity. */
      readonly objectId: string;
      readonly plaintextLength: number;
      readonly storedLength: number;
      /** The ETag of the version verified. */
      readonly etag?: string | undefined;
      readonly versionId?: string | undefined;
      /** The KEKs its envelope names (all of them, not only the one that unwrapped). */
      readonly keks: readonly KekName[];
    }
  | {
      readonly encrypted: true;
      /** An AWS S3 Encryption Client object (read with the client's `s3ec` option): its one GCM tag verified over the whole body. It has no object identity. */
      readonly format: 's3ec';
      readonly formatVersion: number;
      readonly plaintextLength: number;
      readonly storedLength: number;
      readonly etag?: string | undefined;
      readonly versionId?: string | undefined;
      readonly keks: readonly KekName[];
    }
  | {
      readonly encrypted: false;
      readonly etag?: string | undefined;
    };

/**
 * Authenticates a whole stored object without returning any plaintext: key policy, key commitment,
 * the v2 header, the trailer and any signature, the stored length, then every segment of the body
 * (read once; each plaintext chunk is zeroed as soon as its tag verified). Resolves with the
 * authenticated facts; rejects with the typed {@link S3CryptError} of the first check that failed
 * (`ERR_DECRYPTION_FAILED`, `ERR_OBJECT_TRUNCATED`, `ERR_NO_MATCHING_KEY`, `ERR_KEY_NOT_ALLOWED`,
 * `ERR_NOT_ENCRYPTED` for plaintext outside `allowPlaintextReads`, …), naming the object; the store's
 * own errors (`NoSuchKey`, `AccessDenied`) pass through. Audit events are those of a GetObject, with
 * `command: 'VerifyObject'`. A read that meets the object replaced meanwhile starts over on it.
 *
 * @example
 * ```ts
 * const result = await verifyObject(client, { Bucket: 'b', Key: 'k' }).catch((err: unknown) => {
 *   if (err instanceof DecryptionError) quarantine('k', err.code);
 *   throw err;
 * });
 * if (result.encrypted) console.log('intact', result.objectId);
 * ```
 */
export async function verifyObject(client: EncryptingS3Client, input: VerifyObjectInput, options: VerifyObjectOptions = {}): Promise<VerifyObjectResult> {
  if (typeof input?.Bucket !== 'string' || input.Bucket === '' || typeof input.Key !== 'string' || input.Key === '') {
    throw new TypeError('verifyObject: input must be { Bucket, Key, … } with non-empty strings');
  }
  const { signal, ...request } = options ?? {};
  checkRequestOptions(request, 'verifyObject');
  const { Bucket, Key, VersionId, IfMatch, SSECustomerAlgorithm, SSECustomerKey, SSECustomerKeyMD5, ExpectedBucketOwner, RequestPayer } = input;
  const fields = { Bucket, Key, VersionId, IfMatch, SSECustomerAlgorithm, SSECustomerKey, SSECustomerKeyMD5, ExpectedBucketOwner, RequestPayer };
  const operation = objectOperationContext(client, 'VerifyObject', fields, request.customerKeys, 'verifyObject');
  const sendOptions: SendOptions = signal ? { abortSignal: signal } : undefined;
  try {
    const verified = await operation.completing(
      restartingWhenReplaced(() => authenticateObject(operation.ctx, operation.input as GetObjectCommandInput, sendOptions, request)),
    );
    if (!verified.encrypted) return { encrypted: false, etag: verified.etag };
    if ('format' in verified) {
      const { providerId, keyId } = s3ecEncryptedDataKey(verified.envelope);
      return { encrypted: true, format: 's3ec', formatVersion: verified.envelope.formatVersion, plaintextLength: verified.plaintextLength, storedLength: verified.storedLength, etag: verified.etag, versionId: verified.versionId, keks: [{ providerId, keyId }] };
    }
    return {
      encrypted: true,
      formatVersion: verified.envelope.version,
      objectId: verified.objectId,
      plaintextLength: verified.layout.plaintextLength,
      storedLength: verified.layout.totalLength,
      etag: verified.etag,
      versionId: verified.versionId,
      keks: verified.envelope.encryptedDataKeys.map(({ providerId, keyId }) => ({ providerId, keyId })),
    };
  } catch (error) {
    throw namingObject(error, objectRefOf(input));
  } finally {
    operation.release();
  }
}
