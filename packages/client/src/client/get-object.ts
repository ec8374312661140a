import { GetObjectCommand, type GetObjectCommandInput, type GetObjectCommandOutput } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/util-stream';
import { Readable } from 'node:stream';
import { DecryptionError } from '../errors.js';
import { findEnvelope, isSignedSuite, withoutEnvelope } from '../format/envelope.js';
import { planRead, singlePartLayout, type ObjectLayout, type ReadPlan } from '../format/layout.js';
import { dataPartKey } from '../format/object.js';
import { openSegmentsStream, SegmentOpener } from '../format/open-stream.js';
import { CHECKSUM_FIELDS, objectName, type HandlerContext, type SendOptions } from './context.js';
import { partRange, resolveRange, type PlainRange } from './range.js';
import { namingObject, objectRefOf, streamNamingObject } from './object-errors.js';
import { encryptedObjectInfo, withObjectInfo } from './object-info.js';
import { checkPlaintextRead } from './plaintext-reads.js';
import { EarlyBody } from './early-body.js';
import type { LayoutHint } from './layout-hints.js';
import { getStoredRange, objectSelector, openAnyObject, TAIL_FETCH_LENGTH, type OpenedObject, type PlaintextObject, type TailHeaders } from './read-object.js';
import { isS3ecObject, s3ecPlaintext, s3ecUnauthenticatedRange, unauthenticatedRangeRefused, withoutS3ecMetadata, type OpenedS3ecObject } from './s3ec-read.js';
import type { S3CryptRequestOptions } from './request-options.js';
import { restartingWhenReplaced, rethrowPinned } from './replaced-object.js';
import { discardBody, exactLength } from './store-response.js';
import { bufferStream } from './streaming.js';
import { parallelPlaintextStream, worthParallel, worthParallelBytes } from '../parallel/parallel-read.js';
import { parallelReadsFor, type ResolvedParallelReads } from '../parallel/options.js';

const CIPHERTEXT_FIELDS = [...CHECKSUM_FIELDS, 'ChecksumType', 'ContentMD5'] as const;

/** The response fields that describe the stored ciphertext are replaced by plaintext ones. */
export function plaintextView<T extends { Metadata?: Record<string, string> }>(response: T): T {
  const view = { ...response, Metadata: withoutEnvelope(response.Metadata) } as Record<string, unknown>;
  for (const field of CIPHERTEXT_FIELDS) delete view[field];
  delete view.Body;
  delete view.ContentRange;
  return view as T;
}

/**
 * Stored bytes [start, min(end, tail)) with one more ranged GET of the same object version: its body,
 * and a guard that lets exactly those bytes through.
 */
async function fetchBeforeTail(ctx: HandlerContext, opened: OpenedObject, start: number, end: number, options: SendOptions, early: EarlyBody | undefined): Promise<{ body: Readable; guard: ReturnType<typeof exactLength> }> {
  const stop = Math.min(end, opened.tailOffset);
  const response = await (early?.take(start, stop) ?? getStoredRange(ctx, opened.sameVersion, start, stop, opened.layout.totalLength, options));
  return { body: response.Body as Readable, guard: exactLength(stop - start, objectName(String(opened.sameVersion.Bucket), String(opened.sameVersion.Key))) };
}

function requestedRange(input: GetObjectCommandInput, opened: OpenedObject): PlainRange {
  const length = opened.layout.plaintextLength;
  if (input.Range !== undefined && input.PartNumber !== undefined) throw new TypeError('GetObject: Range and PartNumber cannot be combined');
  if (input.Range !== undefined) return resolveRange(input.Range, length);
  if (input.PartNumber !== undefined) return partRange(input.PartNumber, opened.layout);
  return { start: 0, end: length, whole: true };
}

/**
 * The verified plaintext `plan` reads of an opened object, as a stream; every segment's tag is checked
 * before its bytes are released. Part keys are zeroed when the stream closes; `opened.dataKey` is the
 * caller's to zero. `early`'s response is used if it holds exactly the stored bytes the plan needs.
 */
export async function plaintextStream(ctx: HandlerContext, opened: OpenedObject, plan: ReadPlan, options: SendOptions, early?: EarlyBody): Promise<Readable> {
  const partKeys = new Map<number, Buffer>();
  const zeroPartKeys = () => partKeys.forEach((key) => key.fill(0));
  try {
    for (const index of plan.partIndexes) partKeys.set(index, dataPartKey(opened.keys, opened.envelope, opened.layout.parts[index]!));
    const keyForPart = (index: number) => partKeys.get(index)!;
    if (plan.cipherStart >= opened.tailOffset) {
      // Everything needed came with the first response (small objects): open it now, so tampering
      // fails send() itself and no stream machinery is needed.
      const opener = new SegmentOpener(plan.segments(), keyForPart);
      const plaintext = opener.push(opened.tail.subarray(plan.cipherStart - opened.tailOffset, plan.cipherEnd - opened.tailOffset));
      opener.end();
      zeroPartKeys();
      return bufferStream(plaintext);
    }
    // What lies in the tail already fetched is not fetched again: it follows the stream's bytes.
    const { body, guard } = await fetchBeforeTail(ctx, opened, plan.cipherStart, plan.cipherEnd, options, early);
    const suffix = opened.tail.subarray(0, Math.max(0, plan.cipherEnd - opened.tailOffset));
    // A consumer that destroys the plaintext closes the response (and its socket).
    return openSegmentsStream(body, plan.segments(), keyForPart, { suffix, onClose: zeroPartKeys, sourceGuard: guard });
  } catch (error) {
    zeroPartKeys();
    throw error;
  }
}

/**
 * An object without an envelope, inside the caller's plaintext selection: the caller's own request,
 * pinned to the version whose metadata was checked, and that response's metadata checked again.
 */
async function getPlaintext(ctx: HandlerContext, input: GetObjectCommandInput, plain: PlaintextObject, options: SendOptions): Promise<GetObjectCommandOutput> {
  const response = await ctx.inner.send(new GetObjectCommand({ ...input, ...(plain.etag ? { IfMatch: plain.etag } : {}) }), options).catch(rethrowPinned);
  try {
    if (findEnvelope(response.Metadata) !== undefined || isS3ecObject(response.Metadata)) throw new DecryptionError('ERR_OBJECT_MALFORMED', 'the store answered a pinned read with different metadata');
    await checkPlaintextRead(ctx.plaintextReads, String(input.Bucket), String(input.Key), response.Metadata, { scope: ctx.audit, versionId: response.VersionId });
  } catch (error) {
    discardBody(response);
    throw error;
  }
  return withObjectInfo(response, { encrypted: false });
}

export function getObject(ctx: HandlerContext, input: GetObjectCommandInput, options: SendOptions, request: S3CryptRequestOptions = {}): Promise<GetObjectCommandOutput> {
  return restartingWhenReplaced(() => getObjectOnce(ctx, input, options, request));
}

async function getObjectOnce(ctx: HandlerContext, input: GetObjectCommandInput, options: SendOptions, request: S3CryptRequestOptions): Promise<GetObjectCommandOutput> {
  let parallel: ResolvedParallelReads | undefined;
  try {
    parallel = parallelReadsFor(ctx.parallelReads, request.parallelReads);
  } catch (error) {
    throw namingObject(error, objectRefOf(input));
  }
  // A read that one more GET will serve asks for it early (client/early-body.ts): before the tail
  // when this client has read the object before, else once the tail's headers are in.
  const early = input.PartNumber === undefined ? new EarlyBody(ctx, options) : undefined;
  const wanted = (layout: ObjectLayout | undefined, tailOffset: number): [number, number] => {
    const range = input.Range === undefined ? ([0, tailOffset] as [number, number]) : layout && storedRangeFor(layout, input.Range, tailOffset);
    return range && !(parallel && worthParallelBytes(range[1] - range[0], parallel)) ? range : [0, 0];
  };
  const hint = early && ctx.layoutHints.get(String(input.Bucket), String(input.Key), input.VersionId);
  if (early && hint) {
    const { totalLength } = hint.layout;
    early.startBeforeTail({ ...objectSelector(input), IfMatch: hint.etag }, ...wanted(hint.layout, totalLength - Math.min(TAIL_FETCH_LENGTH, totalLength)), totalLength);
  }
  const onTailHeaders = early && ((tail: TailHeaders) => early.start(tail, ...wanted(guessedLayout(tail, hint), tail.tailOffset)));
  try {
    return await getOpened(ctx, input, await openAnyObject(ctx, input, options, request, true, { onTailHeaders }), options, parallel, early);
  } finally {
    early?.dispose();
  }
}

/**
 * The layout of the object behind the tail's headers, guessed before its trailer is read: the one an
 * earlier read found (`hint`), if it read this very version, or else, for an object whose ETag
 * carries no "-N" part count (a single PUT), the one-part layout. The authenticated layout confirms
 * or discards the guess (client/early-body.ts).
 */
function guessedLayout(tail: TailHeaders, hint: LayoutHint | undefined): ObjectLayout | undefined {
  if (tail.etag === undefined) return undefined;
  const layout =
    hint?.etag === tail.etag ? hint.layout : /-\d+"?$/.test(tail.etag) ? undefined : singlePartLayout(tail.total, tail.envelope.segmentSize, isSignedSuite(tail.envelope));
  return layout?.totalLength === tail.total ? layout : undefined;
}

/** The stored bytes before the tail (at `tailOffset`) that a read of `range` needs in `layout`, if any. */
function storedRangeFor(layout: ObjectLayout, range: string, tailOffset: number): [number, number] | undefined {
  let plain: PlainRange;
  try {
    plain = resolveRange(range, layout.plaintextLength);
  } catch {
    return undefined;
  }
  const plan = planRead(layout, plain.start, plain.end, plain.whole);
  return [plan.cipherStart, Math.min(plan.cipherEnd, tailOffset)];
}

async function getOpened(
  ctx: HandlerContext,
  input: GetObjectCommandInput,
  opened: OpenedObject | PlaintextObject | OpenedS3ecObject,
  options: SendOptions,
  parallel: ResolvedParallelReads | undefined,
  early: EarlyBody | undefined,
): Promise<GetObjectCommandOutput> {
  if ('format' in opened) return getS3ecObject(ctx, input, opened, options);
  if (!opened.encrypted) return getPlaintext(ctx, input, opened, options);
  const object = objectRefOf(input, opened.response.VersionId)!;
  let body: Readable;
  let range: PlainRange;
  try {
    range = requestedRange(input, opened);
    // Only a read that needs bytes before the tail can use a hint; small objects are one GET anyway.
    if (opened.tailOffset > 0) ctx.layoutHints.remember(String(input.Bucket), String(input.Key), input.VersionId, opened.response.ETag, opened.layout, isSignedSuite(opened.envelope));
    const plan = planRead(opened.layout, range.start, range.end, range.whole);
    const stream =
      parallel && worthParallel(opened, plan, parallel)
        ? await parallelPlaintextStream(ctx, opened, plan, options, parallel, ctx.parallelReads!.pool)
        : await plaintextStream(ctx, opened, plan, options, early);
    body = streamNamingObject(stream, object);
  } catch (error) {
    throw namingObject(error, object);
  } finally {
    opened.dataKey.fill(0);
  }
  const length = range.end - range.start;
  const partial = !range.whole;
  const output: GetObjectCommandOutput = {
    ...plaintextView(opened.response),
    ContentLength: length,
    ...(partial ? { ContentRange: `bytes ${range.start}-${range.end - 1}/${opened.layout.plaintextLength}` } : {}),
    ...(input.PartNumber !== undefined ? { PartsCount: opened.layout.parts.length } : {}),
    Body: sdkStreamMixin(body),
    $metadata: { ...opened.response.$metadata, httpStatusCode: partial ? 206 : 200 },
  };
  return withObjectInfo(output, encryptedObjectInfo(opened.envelope.version, opened.identity));
}

/** An AWS S3 Encryption Client object: whole (released as the `s3ec` option says), or a range only by opt-in. */
async function getS3ecObject(ctx: HandlerContext, input: GetObjectCommandInput, opened: OpenedS3ecObject, options: SendOptions): Promise<GetObjectCommandOutput> {
  const object = objectRefOf(input, opened.response.VersionId)!;
  let body: Readable;
  let range: PlainRange;
  try {
    if (input.Range !== undefined && input.PartNumber !== undefined) throw new TypeError('GetObject: Range and PartNumber cannot be combined');
    // Parts of a multipart S3EC upload are not units of its format: a part number is a range too.
    if (input.PartNumber !== undefined) throw unauthenticatedRangeRefused(opened);
    range = input.Range === undefined ? { start: 0, end: opened.plaintextLength, whole: true } : resolveRange(input.Range, opened.plaintextLength);
    if (!range.whole && !(ctx.s3ec?.unauthenticatedRanges ?? false)) throw unauthenticatedRangeRefused(opened);
    body = streamNamingObject(range.whole ? await s3ecPlaintext(ctx, opened, options) : await s3ecUnauthenticatedRange(ctx, opened, range.start, range.end, options), object);
  } catch (error) {
    opened.cipher.key.fill(0);
    throw namingObject(error, object);
  }
  const partial = !range.whole;
  const output: GetObjectCommandOutput = {
    ...plaintextView(withoutS3ecMetadata(opened.response)),
    ContentLength: range.end - range.start,
    ...(partial ? { ContentRange: `bytes ${range.start}-${range.end - 1}/${opened.plaintextLength}` } : {}),
    Body: sdkStreamMixin(body),
    $metadata: { ...opened.response.$metadata, httpStatusCode: partial ? 206 : 200 },
  };
  return withObjectInfo(output, { encrypted: true, format: 's3ec', formatVersion: opened.envelope.formatVersion });
}
