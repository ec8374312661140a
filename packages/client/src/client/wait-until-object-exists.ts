// The SDK's waitUntilObjectExists treats every error as "retry" until maxWaitTime. Through
// EncryptingS3Client a HeadObject of a missing object fails at its first, plain HEAD (no key is
// touched), but one of an object that exists and cannot be read fails after a key unwrap, often a KMS
// call: the SDK's waiter repeats that on every poll and ends in a TimeoutError. This waiter ends the
// wait with the object's own error instead.
import { HeadObjectCommand, type HeadObjectCommandInput, type HeadObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { checkExceptions, createWaiter, WaiterState, type WaiterConfiguration, type WaiterResult } from '@smithy/core/client';
import { S3CryptError, type S3CryptErrorCode } from '../errors.js';

/** Failures that may pass while the waiter waits; any other S3CryptError describes the object itself. */
const TRANSIENT: ReadonlySet<S3CryptErrorCode> = new Set(['ERR_KMS_UNAVAILABLE', 'ERR_KMS_THROTTLED']);

function isPermanent(error: unknown): boolean {
  return error instanceof TypeError || (error instanceof S3CryptError && !TRANSIENT.has(error.code));
}

async function checkExists(client: S3Client, input: HeadObjectCommandInput, abortSignal: AbortSignal | undefined): Promise<WaiterResult<HeadObjectCommandOutput | unknown>> {
  try {
    return { state: WaiterState.SUCCESS, reason: await client.send(new HeadObjectCommand(input), abortSignal ? { abortSignal } : {}) };
  } catch (error) {
    return { state: isPermanent(error) ? WaiterState.FAILURE : WaiterState.RETRY, reason: error };
  }
}

/**
 * Waits until an object exists and can be read. Same parameters, defaults (minDelay 5 s, maxDelay
 * 120 s) and result as `waitUntilObjectExists` of `@aws-sdk/client-s3`, whose `reason` is the
 * HeadObject output; through an `EncryptingS3Client` that is the authenticated one (plaintext
 * length, no envelope). Unlike the SDK's waiter, which retries every error until `maxWaitTime`:
 * - a permanent s3crypt failure (a key the policy refuses or the keyring cannot unwrap, a tampered,
 *   truncated or unencrypted object, an identity mismatch, …) or a `TypeError` ends the wait at once,
 *   rejecting with that error itself, after one key unwrap;
 * - `ERR_KMS_UNAVAILABLE` / `ERR_KMS_THROTTLED`, NotFound and every other store error are retried as
 *   the SDK retries them (each retry of a KMS failure is another unwrap, as the KMS may recover).
 * Polls of an object that does not exist yet never touch a key. Works with a plain `S3Client` too.
 *
 * @example
 * ```ts
 * import { EncryptingS3Client, waitUntilObjectExists } from '@s3crypt/client';
 * const { reason } = await waitUntilObjectExists({ client: s3, maxWaitTime: 60 }, { Bucket: 'b', Key: 'k' });
 * console.log((reason as HeadObjectCommandOutput).ContentLength); // the plaintext length
 * ```
 */
export async function waitUntilObjectExists(params: WaiterConfiguration<S3Client>, input: HeadObjectCommandInput): Promise<WaiterResult> {
  const signal = (params.abortSignal ?? params.abortController?.signal) as AbortSignal | undefined;
  const result = await createWaiter({ minDelay: 5, maxDelay: 120, ...params }, input, (client: S3Client, request: HeadObjectCommandInput) =>
    checkExists(client, request, signal),
  );
  if (result.state === WaiterState.FAILURE && result.reason instanceof Error) throw result.reason;
  return checkExceptions(result);
}
