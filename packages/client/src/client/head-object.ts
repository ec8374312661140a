import { HeadObjectCommand, type HeadObjectCommandInput, type HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { NotEncryptedError } from '../errors.js';
import { findEnvelope } from '../format/envelope.js';
import type { HandlerContext, SendOptions } from './context.js';
import { plaintextView } from './get-object.js';
import { encryptedObjectInfo, withObjectInfo } from './object-info.js';
import { checkPlaintextRead } from './plaintext-reads.js';
import { objectSelector, openAnyObject, openObject } from './read-object.js';
import { storedAsS3ec, withoutS3ecMetadata } from './s3ec-read.js';
import type { S3CryptRequestOptions } from './request-options.js';
import { restartingWhenReplaced, rethrowPinned } from './replaced-object.js';

/**
 * A real HEAD first, so status and errors (NotFound, 304, 412) are exactly the plain client's; then
 * the plaintext length from the authenticated trailer of that very version (one ranged GET).
 */
export async function headObject(ctx: HandlerContext, input: HeadObjectCommandInput, options: SendOptions, request: S3CryptRequestOptions = {}): Promise<HeadObjectCommandOutput> {
  if (input.Range !== undefined || input.PartNumber !== undefined) {
    throw new TypeError('HeadObject: Range and PartNumber are not supported through EncryptingS3Client');
  }
  return restartingWhenReplaced(() => headObjectOnce(ctx, input, options, request));
}

async function headObjectOnce(ctx: HandlerContext, input: HeadObjectCommandInput, options: SendOptions, request: S3CryptRequestOptions): Promise<HeadObjectCommandOutput> {
  const head = await ctx.inner.send(new HeadObjectCommand(input), options);
  if (findEnvelope(head.Metadata) === undefined && (await storedAsS3ec(ctx, input, head.Metadata, options))) {
    const opened = await openAnyObject(ctx, { ...objectSelector(input), IfMatch: head.ETag }, options, request, true).catch(rethrowPinned);
    if (!('format' in opened)) throw new NotEncryptedError('the object changed while it was being read');
    // The length is the stored one less the tag: authenticated only by a whole read, as for any S3EC reader.
    opened.cipher.key.fill(0);
    return withObjectInfo({ ...plaintextView(withoutS3ecMetadata(head)), ContentLength: opened.plaintextLength }, { encrypted: true, format: 's3ec', formatVersion: opened.envelope.formatVersion });
  }
  if (findEnvelope(head.Metadata) === undefined) {
    await checkPlaintextRead(ctx.plaintextReads, String(input.Bucket), String(input.Key), head.Metadata, { scope: ctx.audit, versionId: head.VersionId });
    return withObjectInfo(head, { encrypted: false });
  }
  const opened = await openObject(ctx, { ...objectSelector(input), IfMatch: head.ETag }, options, request).catch(rethrowPinned);
  if (!opened.encrypted) throw new NotEncryptedError('the object changed while it was being read');
  opened.dataKey.fill(0);
  return withObjectInfo({ ...plaintextView(head), ContentLength: opened.layout.plaintextLength }, encryptedObjectInfo(opened.envelope.version, opened.identity));
}
