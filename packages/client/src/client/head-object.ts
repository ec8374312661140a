import { HeadObjectCommand, type GetObjectCommandOutput, type HeadObjectCommandInput, type HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { NotEncryptedError } from '../errors.js';
import { findEnvelope } from '../format/envelope.js';
import type { HandlerContext, SendOptions } from './context.js';
import { plaintextView } from './get-object.js';
import { encryptedObjectInfo, withObjectInfo } from './object-info.js';
import { checkPlaintextRead } from './plaintext-reads.js';
import { objectSelector, openAnyObject, openObject, sendTailRequest } from './read-object.js';
import { discardBody } from './store-response.js';
import { storedAsS3ec, withoutS3ecMetadata } from './s3ec-read.js';
import type { S3CryptRequestOptions } from './request-options.js';
import { restartingWhenReplaced, rethrowPinned } from './replaced-object.js';

/**
 * A real HEAD, so status and errors (NotFound, 304, 412) are exactly the plain client's, and the
 * plaintext length from the authenticated trailer of that very version (one ranged GET, sent with the
 * HEAD unless the object may be read as plaintext, for which it would be wasted).
 */
export async function headObject(ctx: HandlerContext, input: HeadObjectCommandInput, options: SendOptions, request: S3CryptRequestOptions = {}): Promise<HeadObjectCommandOutput> {
  if (input.Range !== undefined || input.PartNumber !== undefined) {
    throw new TypeError('HeadObject: Range and PartNumber are not supported through EncryptingS3Client');
  }
  return restartingWhenReplaced(() => headObjectOnce(ctx, input, options, request));
}

async function headObjectOnce(ctx: HandlerContext, input: HeadObjectCommandInput, options: SendOptions, request: S3CryptRequestOptions): Promise<HeadObjectCommandOutput> {
  // An object the caller may read as plaintext would make the tail GET a wasted request.
  const tail = ctx.plaintextReads(String(input.Bucket), String(input.Key)) ? undefined : new TailAlongside(ctx, input, options);
  try {
    return await headAndOpen(ctx, input, options, request, tail);
  } finally {
    // Unused (a failed HEAD, a plaintext object) or already read: either way, done with.
    tail?.drop();
  }
}

async function headAndOpen(ctx: HandlerContext, input: HeadObjectCommandInput, options: SendOptions, request: S3CryptRequestOptions, tail: TailAlongside | undefined): Promise<HeadObjectCommandOutput> {
  const head = await ctx.inner.send(new HeadObjectCommand(input), options);
  const hooks = () => (tail ? { firstResponse: tail.of(head) } : {});
  if (findEnvelope(head.Metadata) === undefined && (await storedAsS3ec(ctx, input, head.Metadata, options))) {
    const opened = await openAnyObject(ctx, { ...objectSelector(input), IfMatch: head.ETag }, options, request, true, hooks()).catch(rethrowPinned);
    if (!('format' in opened)) throw new NotEncryptedError('the object changed while it was being read');
    // The length is the stored one less the tag: authenticated only by a whole read, as for any S3EC reader.
    opened.cipher.key.fill(0);
    return withObjectInfo({ ...plaintextView(withoutS3ecMetadata(head)), ContentLength: opened.plaintextLength }, { encrypted: true, format: 's3ec', formatVersion: opened.envelope.formatVersion });
  }
  if (findEnvelope(head.Metadata) === undefined) {
    await checkPlaintextRead(ctx.plaintextReads, String(input.Bucket), String(input.Key), head.Metadata, { scope: ctx.audit, versionId: head.VersionId });
    return withObjectInfo(head, { encrypted: false });
  }
  const opened = await openObject(ctx, { ...objectSelector(input), IfMatch: head.ETag }, options, request, hooks()).catch(rethrowPinned);
  if (!opened.encrypted) throw new NotEncryptedError('the object changed while it was being read');
  opened.dataKey.fill(0);
  return withObjectInfo({ ...plaintextView(head), ContentLength: opened.layout.plaintextLength }, encryptedObjectInfo(opened.envelope.version, opened.identity));
}

/**
 * The tail GET a HeadObject of an encrypted object needs, sent together with the HEAD (with the
 * caller's conditions, so a 304 or 412 costs no body) instead of after it: one round trip, not two.
 * It cannot be pinned to the HEAD's ETag before that arrives, so it is checked against it instead.
 */
class TailAlongside {
  readonly #response: Promise<GetObjectCommandOutput>;

  constructor(ctx: HandlerContext, input: HeadObjectCommandInput, options: SendOptions) {
    const { IfMatch, IfNoneMatch, IfModifiedSince, IfUnmodifiedSince } = input;
    this.#response = sendTailRequest(ctx, { ...objectSelector(input), IfMatch, IfNoneMatch, IfModifiedSince, IfUnmodifiedSince }, options);
    // Its failure is reported to the open that uses it; one that is never used is only dropped.
    this.#response.catch(() => undefined);
  }

  /** The tail response, if it is of the version `head` describes; otherwise the object was replaced in between. */
  of(head: HeadObjectCommandOutput): Promise<GetObjectCommandOutput> {
    return this.#response.then((response) => {
      if (response.ETag === head.ETag) return response;
      discardBody(response);
      return rethrowPinned(Object.assign(new Error('the object was replaced between the HEAD and the tail GET'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } }));
    });
  }

  drop(): void {
    void this.#response.then(discardBody, () => undefined);
  }
}
