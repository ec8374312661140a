// Rotation over many objects: the bulk engine (list or take a manifest, bounded concurrency,
// checkpoints) with rotateObject's step, and a summary. Idempotent (objects already under the target
// KEKs are skipped) and resumable (`startAfter` from the last progress event's `resumeAfter`).
import { checkListing, runOverObjects } from '../bulk/for-each-object.js';
import type { FailureReason } from '../bulk/failure.js';
import type { EncryptingS3Client } from '../client/encrypting-client.js';
import { storeClientOf } from '../client/internals.js';
import { checkRotateObjectOptions, rotateToTargets, type ObjectRotation, type RotateObjectOptions, type RotationObject, type RotationSkipReason } from './rotate-object.js';

/**
 * @example
 * ```ts
 * const options: RotateKeysOptions = { bucket: 'b', prefix: 'reports/', to: newKeyring, concurrency: 16, onProgress: (p) => log(p) };
 * ```
 */
export interface RotateKeysOptions extends RotateObjectOptions {
  readonly bucket: string;
  /** Objects listed under this prefix (ignored with `objects`). */
  readonly prefix?: string;
  /** Instead of listing: the objects to rotate (a manifest), in any order. */
  readonly objects?: AsyncIterable<RotationObject> | Iterable<RotationObject>;
  /** Objects in flight at once. Default 8. */
  readonly concurrency?: number;
  /** Resume a listing after this key (a previous run's last `resumeAfter`). */
  readonly startAfter?: string;
  /** Called after every object, in completion order. */
  readonly onProgress?: (progress: RotationProgress) => void;
}

/**
 * @example
 * ```ts
 * onProgress: ({ result, done, resumeAfter }) => { if (resumeAfter) saveCheckpoint(resumeAfter); }
 * ```
 */
export interface RotationProgress {
  readonly result: ObjectRotation;
  /** Objects finished so far. */
  readonly done: number;
  readonly rotated: number;
  readonly skipped: number;
  readonly failed: number;
  /**
   * Every listed object up to and including this key is finished (and none failed): a run restarted
   * with `startAfter: resumeAfter` loses nothing. Absent with `objects` (a manifest has no order).
   */
  readonly resumeAfter?: string | undefined;
}

/**
 * @example
 * ```ts
 * const summary: RotationSummary = await rotateKeys(client, { bucket, to: newKeyring });
 * if (summary.failed > 0) for (const f of summary.failures) console.error(f.key, f.reason.code);
 * ```
 */
export interface RotationSummary {
  readonly rotated: number;
  /** Dry run: objects that would be rotated. */
  readonly wouldRotate: number;
  readonly skipped: number;
  readonly skippedBy: Readonly<Partial<Record<RotationSkipReason, number>>>;
  readonly failed: number;
  /** Each failed object and its typed reason. */
  readonly failures: readonly (RotationObject & { readonly reason: FailureReason })[];
  /** As {@link RotationProgress.resumeAfter}, at the end (the last key listed when nothing failed to finish). */
  readonly resumeAfter?: string | undefined;
}

/**
 * Rotates every selected object under `options.prefix` of `options.bucket` (or the listed `objects`)
 * to `options.to`, `concurrency` at a time, with {@link rotateObject}'s per-object step. Readers keep
 * working throughout: data bytes are untouched, and a read that meets a rotated object restarts on it.
 * Objects already under the target KEKs are skipped, so an interrupted run can simply run again
 * (faster from its last `resumeAfter`). Noncurrent versions in a versioned bucket are not rewritten
 * (each rotation leaves the previous wrapping as a noncurrent version; see docs/ROTATION.md).
 *
 * @example
 * ```ts
 * const client = new EncryptingS3Client({ client: s3, keyring: new MultiKeyring({ generator: newKeyring, children: [oldKeyring] }) });
 * const summary = await rotateKeys(client, { bucket: 'b', prefix: 'reports/', to: newKeyring, dryRun: true });
 * console.log(summary.wouldRotate, summary.skipped);
 * ```
 */
export async function rotateKeys(client: EncryptingS3Client, options: RotateKeysOptions): Promise<RotationSummary> {
  const targetKeks = checkRotateObjectOptions(options, 'rotateKeys');
  const concurrency = checkListing(options, 'rotateKeys');
  const counts = { rotated: 0, wouldRotate: 0, skipped: 0, failed: 0 };
  const skippedBy: Partial<Record<RotationSkipReason, number>> = {};
  const failures: (RotationObject & { reason: FailureReason })[] = [];
  const { resumeAfter } = await runOverObjects(
    () => storeClientOf(client, 'rotateKeys'),
    {
      ...options,
      step: (object) => rotateToTargets(client, object, options, targetKeks),
      isFailure: (result) => result.outcome === 'failed',
      onResult: (result, _object, { done, resumeAfter }) => {
        switch (result.outcome) {
          case 'rotated':
            counts.rotated++;
            break;
          case 'would-rotate':
            counts.wouldRotate++;
            break;
          case 'skipped':
            counts.skipped++;
            skippedBy[result.reason] = (skippedBy[result.reason] ?? 0) + 1;
            break;
          case 'failed':
            counts.failed++;
            failures.push({ bucket: result.bucket, key: result.key, ...(result.versionId !== undefined ? { versionId: result.versionId } : {}), reason: result.reason });
        }
        options.onProgress?.({ result, done, rotated: counts.rotated, skipped: counts.skipped, failed: counts.failed, resumeAfter });
      },
    },
    concurrency,
  );
  return { ...counts, skippedBy, failures, resumeAfter };
}
