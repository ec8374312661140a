// Verification over many objects: the bulk engine (list or take a manifest, bounded concurrency,
// checkpoints) with verifyObject's step, and a summary naming every object that failed.
import { checkListing, runOverObjects, type BulkObject, type ObjectListing } from '../bulk/for-each-object.js';
import { failureReason, type FailureReason } from '../bulk/failure.js';
import type { EncryptingS3Client } from '../client/encrypting-client.js';
import { storeClientOf } from '../client/internals.js';
import { checkEncryptionContext } from '../client/request-options.js';
import type { EncryptionContext } from '../keyrings/keyring.js';
import { verifyObject } from './verify-object.js';

/**
 * @example
 * ```ts
 * const options: VerifyObjectsOptions = { bucket: 'b', prefix: 'reports/', concurrency: 16, onProgress: (p) => log(p) };
 * ```
 */
export interface VerifyObjectsOptions extends ObjectListing {
  /** The caller encryption context the objects were written with, if any (fixed, or per object). */
  readonly encryptionContext?: EncryptionContext | ((object: BulkObject) => EncryptionContext | undefined);
  /** Called after every object, in completion order. */
  readonly onProgress?: (progress: VerificationProgress) => void;
}

/**
 * What happened to one object: every byte authenticated, read as plaintext (an object without an
 * envelope the client's `allowPlaintextReads` allows), or failed with a typed reason.
 *
 * @example
 * ```ts
 * if (result.outcome === 'failed') console.error(result.key, result.reason.code);
 * ```
 */
export type ObjectVerification =
  | (BulkObject & {
      readonly outcome: 'verified';
      /** `s3ec` for an AWS S3 Encryption Client object (read with the client's `s3ec` option); absent for s3crypt's format. */
      readonly format?: 's3ec';
      readonly formatVersion: number;
      /** The authenticated object identity (s3crypt's format only). */
      readonly objectId?: string;
      readonly plaintextLength: number;
      readonly etag?: string | undefined;
    })
  | (BulkObject & { readonly outcome: 'plaintext'; readonly etag?: string | undefined })
  | (BulkObject & { readonly outcome: 'failed'; readonly reason: FailureReason });

/**
 * @example
 * ```ts
 * onProgress: ({ result, done, failed, resumeAfter }) => { if (resumeAfter) saveCheckpoint(resumeAfter); }
 * ```
 */
export interface VerificationProgress {
  readonly result: ObjectVerification;
  /** Objects finished so far. */
  readonly done: number;
  readonly verified: number;
  readonly plaintext: number;
  readonly failed: number;
  /** As `BulkPosition.resumeAfter`: never past an object that failed or is unfinished. */
  readonly resumeAfter?: string | undefined;
}

/**
 * @example
 * ```ts
 * const summary: VerificationSummary = await verifyObjects(client, { bucket: 'b', prefix: 'reports/' });
 * for (const f of summary.failures) console.error(f.key, f.reason.code);
 * ```
 */
export interface VerificationSummary {
  readonly verified: number;
  readonly plaintext: number;
  readonly failed: number;
  /** Each failed object and its typed reason, in completion order. */
  readonly failures: readonly (BulkObject & { readonly reason: FailureReason })[];
  /**
   * The checkpoint at the end: a rerun with `startAfter: resumeAfter` starts at the first failed or
   * unfinished object. Absent when no object past `startAfter` finished (keep the old checkpoint),
   * and with `objects`.
   */
  readonly resumeAfter?: string | undefined;
}

function contextOf(options: VerifyObjectsOptions, object: BulkObject): EncryptionContext | undefined {
  return typeof options.encryptionContext === 'function' ? options.encryptionContext(object) : options.encryptionContext;
}

async function verifyOne(client: EncryptingS3Client, object: BulkObject, options: VerifyObjectsOptions): Promise<ObjectVerification> {
  if (typeof object?.bucket !== 'string' || object.bucket === '' || typeof object.key !== 'string' || object.key === '') {
    throw new TypeError('verifyObjects: each object must be { bucket, key, versionId? }');
  }
  const where = { bucket: object.bucket, key: object.key, ...(object.versionId !== undefined ? { versionId: object.versionId } : {}) };
  const encryptionContext = contextOf(options, object);
  try {
    const result = await verifyObject(
      client,
      { Bucket: object.bucket, Key: object.key, ...(object.versionId !== undefined ? { VersionId: object.versionId } : {}) },
      { ...(encryptionContext ? { encryptionContext } : {}), ...(options.signal ? { signal: options.signal } : {}) },
    );
    if (!result.encrypted) return { ...where, outcome: 'plaintext', etag: result.etag };
    if ('format' in result) return { ...where, outcome: 'verified', format: 's3ec', formatVersion: result.formatVersion, plaintextLength: result.plaintextLength, etag: result.etag };
    return { ...where, outcome: 'verified', formatVersion: result.formatVersion, objectId: result.objectId, plaintextLength: result.plaintextLength, etag: result.etag };
  } catch (error) {
    // An abort ends the run, whatever error the aborted request surfaced as; anything else is this
    // object's finding.
    if (options.signal?.aborted) throw error;
    return { ...where, outcome: 'failed', reason: failureReason(error) };
  }
}

/**
 * Verifies every object under `options.prefix` of `options.bucket` (or the listed `objects`),
 * `concurrency` at a time, with {@link verifyObject}: every stored byte is authenticated, no
 * plaintext is kept. Each object's failure is reported with its typed reason (the run goes on);
 * objects without an envelope count as `plaintext` if the client's `allowPlaintextReads` allows them
 * and fail with `ERR_NOT_ENCRYPTED` otherwise. Resumable: `startAfter` a previous run's `resumeAfter`,
 * which never passes a failed object. Only current versions are listed.
 *
 * @example
 * ```ts
 * const summary = await verifyObjects(client, { bucket: 'b', prefix: 'reports/', concurrency: 16 });
 * if (summary.failed > 0) process.exitCode = 1;
 * ```
 */
export async function verifyObjects(client: EncryptingS3Client, options: VerifyObjectsOptions): Promise<VerificationSummary> {
  const concurrency = checkListing(options, 'verifyObjects');
  if (typeof options.encryptionContext !== 'function') checkEncryptionContext(options.encryptionContext, 'encryptionContext', 'verifyObjects');
  const counts = { verified: 0, plaintext: 0, failed: 0 };
  const failures: (BulkObject & { reason: FailureReason })[] = [];
  const { resumeAfter } = await runOverObjects(
    () => storeClientOf(client, 'verifyObjects'),
    {
      ...options,
      step: (object) => verifyOne(client, object, options),
      isFailure: (result) => result.outcome === 'failed',
      onResult: (result, _object, { done, resumeAfter }) => {
        counts[result.outcome]++;
        if (result.outcome === 'failed') {
          failures.push({ bucket: result.bucket, key: result.key, ...(result.versionId !== undefined ? { versionId: result.versionId } : {}), reason: result.reason });
        }
        options.onProgress?.({ result, done, ...counts, resumeAfter });
      },
    },
    concurrency,
  );
  return { ...counts, failures, resumeAfter };
}
