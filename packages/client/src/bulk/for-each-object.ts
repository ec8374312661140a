// The engine every operation over many objects shares (rotation, verification, the CLI's recursive
// commands): list a prefix (or take a manifest), run one step per object with bounded concurrency,
// report each result in completion order with the checkpoint a restarted run may resume after.
import { paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { storeClientOrSelf } from '../client/internals.js';
import { forEachConcurrently } from './concurrency.js';
import { LowWaterMark } from './low-water-mark.js';

/**
 * One object of a bulk operation.
 *
 * @example
 * ```ts
 * const object: BulkObject = { bucket: 'b', key: 'reports/2026.csv' };
 * ```
 */
export interface BulkObject {
  readonly bucket: string;
  readonly key: string;
  /** A specific version (a manifest may carry one); listings name none. */
  readonly versionId?: string | undefined;
}

/**
 * Which objects a bulk operation visits, and how many at once.
 *
 * @example
 * ```ts
 * const listing: ObjectListing = { bucket: 'b', prefix: 'reports/', startAfter: checkpoint, concurrency: 16 };
 * ```
 */
export interface ObjectListing {
  readonly bucket: string;
  /** Objects listed under this prefix (ignored with `objects`). */
  readonly prefix?: string;
  /** Instead of listing: the objects to visit (a manifest), in any order. */
  readonly objects?: AsyncIterable<BulkObject> | Iterable<BulkObject>;
  /** Objects in flight at once, 1 to 1000. Default 8. */
  readonly concurrency?: number;
  /** Resume a listing after this key (a previous run's last `resumeAfter`). */
  readonly startAfter?: string;
  /** Stops listing; steps should abort their own requests with it. */
  readonly signal?: AbortSignal;
}

/**
 * Where a run stands after one object finished.
 *
 * @example
 * ```ts
 * onResult: (result, object, { resumeAfter }) => { if (resumeAfter) saveCheckpoint(resumeAfter); }
 * ```
 */
export interface BulkPosition {
  /** Objects finished so far. */
  readonly done: number;
  /**
   * Every listed object up to and including this key is finished (and none failed): a run restarted
   * with `startAfter: resumeAfter` loses nothing. Absent with `objects` (a manifest has no order).
   */
  readonly resumeAfter?: string | undefined;
}

/**
 * A bulk run: the objects, the step, and how its results are judged and reported.
 *
 * @example
 * ```ts
 * const run: ForEachObjectOptions<boolean> = { bucket: 'b', prefix: 'in/', step: async ({ key }) => copy(key), isFailure: (ok) => !ok };
 * ```
 */
export interface ForEachObjectOptions<R> extends ObjectListing {
  /**
   * The work on one object. Report a per-object failure as a result (see `isFailure`); a rejection
   * stops the run: no further object starts, those in flight finish, and the run rejects with it.
   */
  readonly step: (object: BulkObject) => Promise<R>;
  /** Whether a result is a failure: a failed object holds `resumeAfter` before it. Default: none is. */
  readonly isFailure?: (result: R) => boolean;
  /** Called after every object, in completion order. */
  readonly onResult?: (result: R, object: BulkObject, position: BulkPosition) => void;
}

interface Listed extends BulkObject {
  readonly seq: number;
}

async function* listed(storeClient: () => S3Client, options: ObjectListing): AsyncGenerator<Listed> {
  let seq = 0;
  if (options.objects) {
    for await (const object of options.objects) yield { ...object, seq: seq++ };
    return;
  }
  const pages = paginateListObjectsV2(
    { client: storeClient(), pageSize: 1000 },
    { Bucket: options.bucket, ...(options.prefix ? { Prefix: options.prefix } : {}), ...(options.startAfter ? { StartAfter: options.startAfter } : {}) },
  );
  for await (const page of pages) {
    options.signal?.throwIfAborted();
    for (const entry of page.Contents ?? []) if (entry.Key) yield { bucket: options.bucket, key: entry.Key, seq: seq++ };
  }
}

/** The checks of a listing's options, once per run; the concurrency to use. */
export function checkListing(options: ObjectListing, where: string): number {
  if (typeof options?.bucket !== 'string' || options.bucket === '') throw new TypeError(`${where}: options.bucket must be a non-empty string`);
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000) throw new TypeError(`${where}: options.concurrency must be an integer from 1 to 1000`);
  return concurrency;
}

/**
 * {@link forEachObject}, listing with `storeClient()` (resolved only if the run lists), `concurrency`
 * checked by {@link checkListing}.
 */
export async function runOverObjects<R>(storeClient: () => S3Client, options: ForEachObjectOptions<R>, concurrency: number): Promise<BulkPosition> {
  const mark = new LowWaterMark();
  let done = 0;
  let resumeAfter: string | undefined;
  await forEachConcurrently(listed(storeClient, options), concurrency, async (item) => {
    mark.started(item);
    const { seq: _seq, ...object } = item;
    const result = await options.step(object);
    done++;
    const low = mark.finished(item, options.isFailure?.(result) ?? false);
    if (!options.objects) resumeAfter = low;
    options.onResult?.(result, object, { done, resumeAfter });
  });
  return { done, resumeAfter };
}

/**
 * Runs `options.step` on every object under `options.prefix` of `options.bucket` (or on the listed
 * `objects`), `concurrency` at a time, pulling the listing only as slots free up (a long listing is
 * never buffered). Each result is passed to `onResult` in completion order with the checkpoint a
 * restarted run can resume after. `client` lists: an `EncryptingS3Client` (its store client) or a
 * plain `S3Client`. `rotateKeys` and `verifyObjects` are built on it.
 *
 * @example
 * ```ts
 * const { done, resumeAfter } = await forEachObject(client, {
 *   bucket: 'b', prefix: 'in/', startAfter: checkpoint, concurrency: 16,
 *   step: (object) => copyOne(object).then(() => true, () => false),
 *   isFailure: (ok) => !ok,
 *   onResult: (ok, { key }, position) => position.resumeAfter && saveCheckpoint(position.resumeAfter),
 * });
 * ```
 */
export async function forEachObject<R>(client: S3Client, options: ForEachObjectOptions<R>): Promise<BulkPosition> {
  const concurrency = checkListing(options, 'forEachObject');
  if (typeof options.step !== 'function') throw new TypeError('forEachObject: options.step must be a function');
  return runOverObjects(() => storeClientOrSelf(client, 'forEachObject'), options, concurrency);
}
