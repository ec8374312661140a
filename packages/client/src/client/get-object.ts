import { GetObjectCommand, type GetObjectCommandInput, type GetObjectCommandOutput } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/util-stream';
import { Readable, pipeline } from 'node:stream';
import { withoutEnvelope } from '../format/envelope.js';
import { planRead } from '../format/layout.js';
import { dataPartKey } from '../format/object.js';
import { openSegmentsTransform, SegmentOpener } from '../format/open-stream.js';
import { CHECKSUM_FIELDS, type HandlerContext, type SendOptions } from './context.js';
import { partRange, resolveRange, type PlainRange } from './range.js';
import { openObject, type OpenedObject } from './read-object.js';
import { withObjectInfo } from './object-info.js';
import type { S3CryptRequestOptions } from './request-options.js';

const CIPHERTEXT_FIELDS = [...CHECKSUM_FIELDS, 'ChecksumType', 'ContentMD5'] as const;

/** The response fields that describe the stored ciphertext are replaced by plaintext ones. */
export function plaintextView<T extends { Metadata?: Record<string, string> }>(response: T): T {
  const view = { ...response, Metadata: withoutEnvelope(response.Metadata) } as Record<string, unknown>;
  for (const field of CIPHERTEXT_FIELDS) delete view[field];
  delete view.Body;
  delete view.ContentRange;
  return view as T;
}

/** Stored bytes [start, min(end, tail)) with one more ranged GET of the same object version. */
async function fetchBeforeTail(ctx: HandlerContext, opened: OpenedObject, start: number, end: number, options: SendOptions): Promise<Readable> {
  const response = await ctx.inner.send(new GetObjectCommand({ ...opened.sameVersion, Range: `bytes=${start}-${Math.min(end, opened.tailOffset) - 1}` }), options);
  return response.Body as Readable;
}

function requestedRange(input: GetObjectCommandInput, opened: OpenedObject): PlainRange {
  const length = opened.layout.plaintextLength;
  if (input.Range !== undefined && input.PartNumber !== undefined) throw new TypeError('GetObject: Range and PartNumber cannot be combined');
  if (input.Range !== undefined) return resolveRange(input.Range, length);
  if (input.PartNumber !== undefined) return partRange(input.PartNumber, opened.layout);
  return { start: 0, end: length, whole: true };
}

export async function getObject(ctx: HandlerContext, input: GetObjectCommandInput, options: SendOptions, request: S3CryptRequestOptions = {}): Promise<GetObjectCommandOutput> {
  const opened = await openObject(ctx, input, options, request);
  if (!opened) return ctx.inner.send(new GetObjectCommand(input), options);
  const partKeys = new Map<number, Buffer>();
  let body: Readable;
  let range: PlainRange;
  try {
    range = requestedRange(input, opened);
    const plan = planRead(opened.layout, range.start, range.end, range.whole);
    for (const index of plan.partIndexes) partKeys.set(index, dataPartKey(opened.dataKey, opened.envelope, opened.layout.parts[index]!));
    const keyForPart = (index: number) => partKeys.get(index)!;
    if (plan.cipherStart >= opened.tailOffset) {
      // Everything needed came with the first response (small objects): open it now, so tampering
      // fails send() itself and no stream machinery is needed.
      const opener = new SegmentOpener(plan.segments(), keyForPart);
      const plaintext = opener.push(opened.tail.subarray(plan.cipherStart - opened.tailOffset, plan.cipherEnd - opened.tailOffset));
      opener.end();
      partKeys.forEach((key) => key.fill(0));
      body = Readable.from(plaintext);
    } else {
      // What lies in the tail already fetched is not fetched again: it follows the stream's bytes.
      const source = await fetchBeforeTail(ctx, opened, plan.cipherStart, plan.cipherEnd, options);
      const fromTail = opened.tail.subarray(0, Math.max(0, plan.cipherEnd - opened.tailOffset));
      const opener = openSegmentsTransform(plan.segments(), keyForPart, () => partKeys.forEach((key) => key.fill(0)), fromTail);
      // pipeline propagates errors and aborts both ways: a consumer that destroys the body closes the socket.
      body = opener;
      pipeline(source, opener, () => undefined);
    }
  } catch (error) {
    partKeys.forEach((key) => key.fill(0));
    throw error;
  } finally {
    opened.dataKey.fill(0);
  }
  const length = range.end - range.start;
  const partial = !range.whole;
  return withObjectInfo({
    ...plaintextView(opened.response),
    ContentLength: length,
    ...(partial ? { ContentRange: `bytes ${range.start}-${range.end - 1}/${opened.layout.plaintextLength}` } : {}),
    ...(input.PartNumber !== undefined ? { PartsCount: opened.layout.parts.length } : {}),
    Body: sdkStreamMixin(body),
    $metadata: { ...opened.response.$metadata, httpStatusCode: partial ? 206 : 200 },
  }, { encrypted: true, formatVersion: opened.envelope.version, objectId: opened.objectId });
}
