// Rewriting an object in place with a fresh data key: its plaintext (decrypted and authenticated
// through the client, or, for a migration, read as stored) streamed back through the client's own
// encrypting upload, conditional on the ETag that was read so a concurrent writer is never overwritten.
import { DeleteObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { DecryptionError } from '../errors.js';
import { findEnvelope, withoutEnvelope } from '../format/envelope.js';
import type { EncryptionContext, Keyring } from '../keyrings/keyring.js';
import type { HandlerContext, SendOptions } from '../client/context.js';
import { uploadEncrypted } from '../client/encrypted-upload.js';
import { getObject } from '../client/get-object.js';
import { s3cryptInfo } from '../client/object-info.js';
import { discardBody } from '../client/store-response.js';
import { isS3ecObject, usesInstructionFile, withoutS3ecMetadata } from '../client/s3ec-read.js';
import { S3EC_INSTRUCTION_FILE_SUFFIX } from '../format/s3ec/metadata.js';
import { preservedHeaders, type CopySourceObject } from './in-place-copy.js';

/** What a rewrite reads: an s3crypt object, an AWS S3 Encryption Client object (both decrypted), or plaintext. */
export type RewriteSource = 's3crypt' | 's3ec' | 'plaintext';

/** The object's plaintext as a stream of known length: decrypted, or as stored for a plaintext object. */
async function plaintextOf(ctx: HandlerContext, source: CopySourceObject, kind: RewriteSource, context: EncryptionContext | undefined, options: SendOptions) {
  const request = { Bucket: source.bucket, Key: source.key, VersionId: source.head.VersionId, IfMatch: source.head.ETag };
  const encrypted = kind !== 'plaintext';
  const response = encrypted
    ? await getObject(ctx, request, options, context ? { encryptionContext: context } : {})
    : await ctx.inner.send(new GetObjectCommand(request), options);
  if (!encrypted && (findEnvelope(response.Metadata) !== undefined || isS3ecObject(response.Metadata))) {
    discardBody(response);
    throw new DecryptionError('ERR_OBJECT_MALFORMED', 'the store answered a pinned read with different metadata');
  }
  const length = response.ContentLength;
  if (length === undefined || !Number.isSafeInteger(length) || length < 0) {
    discardBody(response);
    throw new DecryptionError('ERR_OBJECT_MALFORMED', 'the store did not report the length of the object');
  }
  return { body: response.Body as Readable, length };
}

/**
 * Writes `source` again under `target` with a fresh data key, keeping its metadata, headers and tags.
 * `kind` says what the source is; an S3EC source loses its content metadata and instruction file.
 */
export async function rewriteInPlace(
  ctx: HandlerContext,
  source: CopySourceObject,
  kind: RewriteSource,
  target: Keyring,
  context: EncryptionContext | undefined,
  options: SendOptions,
  toS3ec = false,
): Promise<{ ETag?: string | undefined; VersionId?: string | undefined; objectId?: string | undefined }> {
  const Tagging = await source.tagging();
  const { body, length } = await plaintextOf(ctx, source, kind, context, options);
  try {
    const input = {
      Bucket: source.bucket,
      Key: source.key,
      // Written only over the very object that was read.
      IfMatch: source.head.ETag,
      Metadata: kind === 's3ec' ? withoutS3ecMetadata(source.head).Metadata : withoutEnvelope(source.head.Metadata),
      Tagging,
      ...preservedHeaders(source.head),
    };
    // The format written is the rotation's choice (s3crypt's, or S3EC with toS3ec), whatever the client's s3ec.write says.
    const written = await uploadEncrypted({ ...ctx, keyring: target }, input, body, length, options, { ...(context ? { encryptionContext: context } : {}), s3ecWrite: toS3ec });
    // The instruction file described the object that was just replaced; the official clients delete it with the object.
    if (kind === 's3ec' && usesInstructionFile(source.head.Metadata)) {
      await ctx.inner.send(new DeleteObjectCommand({ Bucket: source.bucket, Key: `${source.key}${S3EC_INSTRUCTION_FILE_SUFFIX}` }), options);
    }
    return { ETag: written.ETag, VersionId: written.VersionId, objectId: s3cryptInfo(written)?.objectId };
  } finally {
    body.destroy();
  }
}
