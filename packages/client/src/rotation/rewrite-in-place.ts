// Rewriting an object in place with a fresh data key: its plaintext (decrypted and authenticated
// through the client, or, for a migration, read as stored) streamed back through the client's own
// encrypting upload, conditional on the ETag that was read so a concurrent writer is never overwritten.
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { DecryptionError } from '../errors.js';
import { findEnvelope, withoutEnvelope } from '../format/envelope.js';
import type { EncryptionContext, Keyring } from '../keyrings/keyring.js';
import type { HandlerContext, SendOptions } from '../client/context.js';
import { uploadEncrypted } from '../client/encrypted-upload.js';
import { getObject } from '../client/get-object.js';
import { s3cryptInfo } from '../client/object-info.js';
import { discardBody } from '../client/store-response.js';
import { preservedHeaders, type CopySourceObject } from './in-place-copy.js';

/** The object's plaintext as a stream of known length: decrypted, or as stored for a plaintext object. */
async function plaintextOf(ctx: HandlerContext, source: CopySourceObject, encrypted: boolean, context: EncryptionContext | undefined, options: SendOptions) {
  const request = { Bucket: source.bucket, Key: source.key, VersionId: source.head.VersionId, IfMatch: source.head.ETag };
  const response = encrypted
    ? await getObject(ctx, request, options, context ? { encryptionContext: context } : {})
    : await ctx.inner.send(new GetObjectCommand(request), options);
  if (!encrypted && findEnvelope(response.Metadata) !== undefined) {
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
 * `encrypted`: the source is an s3crypt object (else a plaintext one being migrated).
 */
export async function rewriteInPlace(
  ctx: HandlerContext,
  source: CopySourceObject,
  encrypted: boolean,
  target: Keyring,
  context: EncryptionContext | undefined,
  options: SendOptions,
): Promise<{ ETag?: string | undefined; VersionId?: string | undefined; objectId?: string | undefined }> {
  const Tagging = await source.tagging();
  const { body, length } = await plaintextOf(ctx, source, encrypted, context, options);
  try {
    const input = {
      Bucket: source.bucket,
      Key: source.key,
      // Written only over the very object that was read.
      IfMatch: source.head.ETag,
      Metadata: withoutEnvelope(source.head.Metadata),
      Tagging,
      ...preservedHeaders(source.head),
    };
    const written = await uploadEncrypted({ ...ctx, keyring: target }, input, body, length, options, context ? { encryptionContext: context } : {});
    return { ETag: written.ETag, VersionId: written.VersionId, objectId: s3cryptInfo(written)?.objectId };
  } finally {
    body.destroy();
  }
}
