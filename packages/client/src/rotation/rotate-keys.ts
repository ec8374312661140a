// Rotation over many objects: list (or take a manifest), select, rotate each with bounded
// concurrency, report progress and a summary. Idempotent (objects already under the target KEKs are
// skipped) and resumable (`startAfter` from the last progress event's `resumeAfter`).
import { paginateListObjectsV2 } from '@aws-sdk/client-s3';
import type { EncryptingS3Client } from '../client/encrypting-client.js';
import { storeClientOf } from '../client/internals.js';
import { forEachConcurrently } from './concurrency.js';
import type { FailureReason } from './failure.js';
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

interface Listed extends RotationObject {
  readonly seq: number;
}

async function* listed(client: EncryptingS3Client, options: RotateKeysOptions): AsyncGenerator<Listed> {
  let seq = 0;
  if (options.objects) {
    for await (const object of options.objects) yield { ...object, seq: seq++ };
    return;
  }
  const pages = paginateListObjectsV2(
    { client: storeClientOf(client, 'rotateKeys'), pageSize: 1000 },
    { Bucket: options.bucket, ...(options.prefix ? { Prefix: options.prefix } : {}), ...(options.startAfter ? { StartAfter: options.startAfter } : {}) },
  );
  for await (const page of pages) {
    options.signal?.throwIfAborted();
    for (const entry of page.Contents ?? []) if (entry.Key) yield { bucket: options.bucket, key: entry.Key, seq: seq++ };
  }
}

/** The highest listed key below which every object is finished, as objects finish out of order. */
class LowWaterMark {
  readonly #keys = new Map<number, string>();
  readonly #finished = new Set<number>();
  #next = 0;
  #mark: string | undefined;

  started(item: Listed): void {
    this.#keys.set(item.seq, item.key);
  }

  /** A failed object holds the mark before it: a resumed run tries it again. */
  finished(item: Listed, failed: boolean): string | undefined {
    if (!failed) this.#finished.add(item.seq);
    while (this.#finished.delete(this.#next)) {
      this.#mark = this.#keys.get(this.#next);
      this.#keys.delete(this.#next++);
    }
    return this.#mark;
  }
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
  if (typeof options.bucket !== 'string' || options.bucket === '') throw new TypeError('rotateKeys: options.bucket must be a non-empty string');
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000) throw new TypeError('rotateKeys: options.concurrency must be an integer from 1 to 1000');
  const counts = { rotated: 0, wouldRotate: 0, skipped: 0, failed: 0 };
  const skippedBy: Partial<Record<RotationSkipReason, number>> = {};
  const failures: (RotationObject & { reason: FailureReason })[] = [];
  const mark = new LowWaterMark();
  let resumeAfter: string | undefined;
  await forEachConcurrently(listed(client, options), concurrency, async (item) => {
    mark.started(item);
    const { seq: _seq, ...object } = item;
    const result = await rotateToTargets(client, object, options, targetKeks);
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
    const low = mark.finished(item, result.outcome === 'failed');
    if (!options.objects) resumeAfter = low;
    options.onProgress?.({ result, done: counts.rotated + counts.wouldRotate + counts.skipped + counts.failed, rotated: counts.rotated, skipped: counts.skipped, failed: counts.failed, resumeAfter });
  });
  return { ...counts, skippedBy, failures, resumeAfter };
}
