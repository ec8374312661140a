// Rewriting an object's metadata in place without touching its bytes: a server-side copy of the object
// onto itself, guarded by the ETag that was read (a concurrent writer's object is never overwritten).
// Objects a single CopyObject cannot take (over 5 GiB) are copied part by part with UploadPartCopy,
// in ranges that start at the object's own data parts, as its authenticated trailer lays them out.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectTaggingCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { ObjectChangedError } from '../errors.js';
import type { ObjectLayout } from '../format/layout.js';
import { encryptedPartLength } from '../format/segments.js';
import type { HandlerContext, SendOptions } from '../client/context.js';
import { isPreconditionFailed } from '../client/replaced-object.js';
import { formatCopySource } from '../client/copy-object.js';
import { forEachConcurrently } from '../bulk/concurrency.js';

/** S3's limits on one CopyObject, and on the parts of a multipart upload. */
export const MAX_COPY_OBJECT_LENGTH = 5 * 1024 ** 3;
const MIN_PART_LENGTH = 5 * 1024 ** 2;
const PART_COPY_CONCURRENCY = 4;

/** The stored object a copy starts from: its current version as a HEAD reported it. */
export interface CopySourceObject {
  readonly bucket: string;
  readonly key: string;
  readonly head: HeadObjectCommandOutput;
  /** Its tags as a Tagging header (fetched once, on first use: selection and a copy may both need them). */
  readonly tagging: () => Promise<string | undefined>;
}

/**
 * The system headers a copy must carry over itself once it replaces metadata: content headers,
 * storage class and server-side encryption. Tags are copied by the store (or, for a multipart copy, read and set).
 */
export function preservedHeaders(head: HeadObjectCommandOutput) {
  const { ContentType, ContentEncoding, ContentDisposition, ContentLanguage, CacheControl, Expires, WebsiteRedirectLocation, StorageClass } = head;
  const { ServerSideEncryption, SSEKMSKeyId, BucketKeyEnabled } = head;
  return { ContentType, ContentEncoding, ContentDisposition, ContentLanguage, CacheControl, Expires, WebsiteRedirectLocation, StorageClass, ServerSideEncryption, SSEKMSKeyId, BucketKeyEnabled };
}

function copySourceOf(source: CopySourceObject): string {
  return formatCopySource(source.bucket, source.key, source.head.VersionId);
}

/** A 412 on the guarded copy means the object was replaced after it was read. */
export function changedMeanwhile(error: unknown, what: string): unknown {
  return isPreconditionFailed(error) ? new ObjectChangedError(`${what} changed while it was being rotated; the new object was left as it is`, { cause: error }) : error;
}

/** The version `head` describes, ready to copy; its tags are fetched at most once (a multipart upload does not copy them). */
export function copySource(ctx: HandlerContext, bucket: string, key: string, head: HeadObjectCommandOutput, options: SendOptions): CopySourceObject {
  let tagging: Promise<string | undefined> | undefined;
  const fetchTagging = async () => {
    const { TagSet = [] } = await ctx.inner.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key, VersionId: head.VersionId }), options);
    return TagSet.length ? new URLSearchParams(TagSet.map(({ Key = '', Value = '' }) => [Key, Value])).toString() : undefined;
  };
  return { bucket, key, head, tagging: () => (tagging ??= fetchTagging()) };
}

/**
 * Stored byte ranges of a multipart copy: each starts where a data part starts, and takes whole
 * consecutive parts until it reaches S3's minimum part size; the last range ends with the trailer.
 */
export function copyRanges(layout: ObjectLayout): { start: number; end: number }[] {
  const ranges: { start: number; end: number }[] = [];
  for (const part of layout.parts) {
    const end = part.cipherOffset + encryptedPartLength(part.length, layout.segmentSize);
    const last = ranges.at(-1);
    if (last && last.end - last.start < MIN_PART_LENGTH) last.end = end;
    else ranges.push({ start: part.cipherOffset, end });
  }
  const last = ranges.at(-1);
  if (last) last.end = layout.totalLength;
  else ranges.push({ start: 0, end: layout.totalLength });
  return ranges;
}

/**
 * Copies `source` onto itself with `Metadata` (and the preserved headers), as one CopyObject up to
 * `threshold` stored bytes, else part by part. Nothing is overwritten unless the stored object is
 * still the one `source.head` describes.
 */
export async function copyInPlace(
  ctx: HandlerContext,
  source: CopySourceObject,
  Metadata: Record<string, string>,
  layout: ObjectLayout,
  threshold: number,
  options: SendOptions,
): Promise<{ ETag?: string | undefined; VersionId?: string | undefined }> {
  const headers = preservedHeaders(source.head);
  const CopySource = copySourceOf(source);
  const ETag = source.head.ETag;
  if (layout.totalLength <= threshold) {
    const output = await ctx.inner.send(
      new CopyObjectCommand({ Bucket: source.bucket, Key: source.key, CopySource, CopySourceIfMatch: ETag, MetadataDirective: 'REPLACE', TaggingDirective: 'COPY', Metadata, ...headers }),
      options,
    );
    return { ETag: output.CopyObjectResult?.ETag, VersionId: output.VersionId };
  }
  const Tagging = await source.tagging();
  const { UploadId } = await ctx.inner.send(new CreateMultipartUploadCommand({ Bucket: source.bucket, Key: source.key, Metadata, Tagging, ...headers }), options);
  const upload = { Bucket: source.bucket, Key: source.key, UploadId };
  try {
    const ranges = copyRanges(layout);
    const parts: CompletedPart[] = new Array<CompletedPart>(ranges.length);
    await forEachConcurrently(ranges.entries(), PART_COPY_CONCURRENCY, async ([index, { start, end }]) => {
      const PartNumber = index + 1;
      const output = await ctx.inner.send(new UploadPartCopyCommand({ ...upload, PartNumber, CopySource, CopySourceIfMatch: ETag, CopySourceRange: `bytes=${start}-${end - 1}` }), options);
      parts[index] = { PartNumber, ETag: output.CopyPartResult?.ETag };
    });
    // If-Match on completion: the key must still hold the object that was copied.
    const output = await ctx.inner.send(new CompleteMultipartUploadCommand({ ...upload, MultipartUpload: { Parts: parts }, IfMatch: ETag }), options);
    return { ETag: output.ETag, VersionId: output.VersionId };
  } catch (error) {
    await ctx.inner.send(new AbortMultipartUploadCommand(upload), options).catch(() => undefined);
    throw error;
  }
}
