// A GetObject served by several ranged GETs in flight. The read plan's segments are grouped into
// ranges of whole segments; each range is fetched (pinned to the version the tail read opened),
// checked against what was asked, authenticated and decrypted on a worker, and released to the
// reader strictly in order. Every byte released has passed its segment's tag, exactly as in a
// single-GET read; only the order in which segments are opened changes.
import { Readable } from 'node:stream';
import { DecryptionError } from '../errors.js';
import type { ReadPlan, SegmentPlan } from '../format/layout.js';
import { dataPartKey } from '../format/object.js';
import type { SealedRange } from '../format/open-range.js';
import { objectName, signalOf, type HandlerContext, type SendOptions } from '../client/context.js';
import { getStoredRange, type OpenedObject } from '../client/read-object.js';
import { readExactlyInto } from '../client/store-response.js';
import type { DecryptPool } from './decrypt-pool.js';
import type { ResolvedParallelReads } from './options.js';

/** A run of consecutive segments, fetched and opened as one. */
interface RangeTask {
  readonly cipherStart: number;
  readonly cipherEnd: number;
  readonly segments: readonly SegmentPlan[];
  readonly plaintextLength: number;
}

/** Groups the plan's segments into ranges of at most `rangeSize` stored bytes (at least one segment each). */
function* rangeTasks(plan: ReadPlan, rangeSize: number): Generator<RangeTask> {
  let segments: SegmentPlan[] = [];
  let start = plan.cipherStart;
  let end = start;
  let plaintextLength = 0;
  for (const segment of plan.segments()) {
    if (segments.length > 0 && end + segment.sealedLength - start > rangeSize) {
      yield { cipherStart: start, cipherEnd: end, segments, plaintextLength };
      [segments, start, plaintextLength] = [[], end, 0];
    }
    segments.push(segment);
    end += segment.sealedLength;
    plaintextLength += segment.keepTo - segment.keepFrom;
  }
  if (segments.length > 0) yield { cipherStart: start, cipherEnd: end, segments, plaintextLength };
  // The plan's segments are contiguous in storage; anything else is a bug, not a store's lie.
  if (end !== plan.cipherEnd) throw new Error('s3crypt: a read plan whose segments do not cover its stored range');
}

/** Whether a read of `plan` is large enough, beyond the tail already fetched, to be worth splitting. */
export function worthParallel(opened: OpenedObject, plan: ReadPlan, settings: ResolvedParallelReads): boolean {
  return worthParallelBytes(Math.min(plan.cipherEnd, opened.tailOffset) - plan.cipherStart, settings);
}

/** Whether `bytes` still to fetch are enough to be worth splitting into ranges. */
export function worthParallelBytes(bytes: number, settings: ResolvedParallelReads): boolean {
  return bytes >= Math.max(settings.minSize, 1);
}

/**
 * The verified plaintext `plan` reads, as a stream fed by up to `settings.concurrency` ranges in
 * flight. It resolves once the first range is authenticated, so that a failure there (tampering, a
 * replaced object) fails the GetObject itself, as a single-GET read's first response does. Part keys
 * are zeroed when the stream closes; `opened.dataKey` is the caller's to zero.
 */
export async function parallelPlaintextStream(
  ctx: HandlerContext,
  opened: OpenedObject,
  plan: ReadPlan,
  options: SendOptions,
  settings: ResolvedParallelReads,
  pool: DecryptPool,
): Promise<Readable> {
  const keys: Record<number, Buffer> = {};
  for (const index of plan.partIndexes) keys[index] = dataPartKey(opened.keys, opened.envelope, opened.layout.parts[index]!);
  const tasks = rangeTasks(plan, settings.rangeSize);
  const what = objectName(String(opened.sameVersion.Bucket), String(opened.sameVersion.Key));
  const controller = new AbortController();
  const callerSignal = signalOf(options);
  const abortSignal = callerSignal ? AbortSignal.any([callerSignal, controller.signal]) : controller.signal;
  // Started and not yet handed to the reader, in order: never more than `concurrency`.
  const started: Promise<Buffer[]>[] = [];
  let exhausted = false;
  let closed = false;
  const close = () => {
    closed = true;
    controller.abort();
    for (const key of Object.values(keys)) key.fill(0);
  };

  // Ciphertext buffers of finished ranges, reused: one large allocation per range in flight, not per range.
  const spare: Buffer[] = [];
  const sealedBuffer = (length: number): Buffer => {
    const reused = spare.pop();
    const buffer = reused && reused.length >= length ? reused : Buffer.allocUnsafeSlow(Math.max(length, settings.rangeSize));
    return buffer.subarray(0, length);
  };

  async function sealedBytes(task: RangeTask): Promise<Buffer> {
    const sealed = sealedBuffer(task.cipherEnd - task.cipherStart);
    const fetchEnd = Math.min(task.cipherEnd, opened.tailOffset);
    if (task.cipherStart < fetchEnd) {
      const response = await getStoredRange(ctx, opened.sameVersion, task.cipherStart, fetchEnd, opened.layout.totalLength, { ...options, abortSignal });
      await readExactlyInto(response, sealed, 0, fetchEnd - task.cipherStart, what);
    }
    // What lies in the tail already fetched is not fetched again.
    const fromTail = Math.max(task.cipherStart, opened.tailOffset);
    if (fromTail < task.cipherEnd) opened.tail.copy(sealed, fromTail - task.cipherStart, fromTail - opened.tailOffset, task.cipherEnd - opened.tailOffset);
    return sealed;
  }

  async function openTask(task: RangeTask): Promise<Buffer[]> {
    const sealed = await sealedBytes(task);
    if (closed) throw new Error('closed');
    const range: SealedRange = { sealed, segments: task.segments, keys, plaintextLength: task.plaintextLength };
    const { result, sealed: returned } = await pool.open(range, true);
    if (returned) spare.push(Buffer.from(returned.buffer, 0, returned.buffer.byteLength));
    if (!result.ok) throw new DecryptionError(result.reason === 'tag' ? 'ERR_DECRYPTION_FAILED' : 'ERR_OBJECT_MALFORMED');
    return result.plaintext;
  }

  function startMore(): void {
    while (!exhausted && !closed && started.length < settings.concurrency) {
      const next = tasks.next();
      if (next.done) {
        exhausted = true;
        return;
      }
      const task = openTask(next.value);
      // Failures are reported in order, when the reader reaches them; until then, not unhandled.
      task.catch(() => undefined);
      started.push(task);
    }
  }

  // The range being handed over, one piece per read(): a reader that calls read() itself (for await)
  // gets each piece as is, where a whole range pushed at once would be joined into one new buffer.
  let pieces: Buffer[] = [];
  let fetching = false;
  function handOver(): void {
    for (let piece = pieces.shift(); piece !== undefined; piece = pieces.shift()) {
      if (piece.length > 0) {
        stream.push(piece);
        return;
      }
    }
    if (fetching) return;
    fetching = true;
    void nextRange();
  }
  async function nextRange(): Promise<void> {
    try {
      startMore();
      const next = started.shift();
      if (!next) {
        stream.push(null);
        return;
      }
      pieces = await next;
      startMore();
    } catch (error) {
      stream.destroy(error as Error);
      return;
    } finally {
      fetching = false;
    }
    if (!stream.destroyed) handOver();
  }
  const stream = new Readable({
    // The ranges in flight are the buffer; the stream holds at most one piece.
    highWaterMark: 0,
    read: handOver,
    destroy(error, callback) {
      close();
      callback(error);
    },
  });
  try {
    startMore();
    await started[0];
  } catch (error) {
    stream.destroy();
    throw error;
  }
  return stream;
}
