// CopyObject through the client. An encrypted source is authenticated in full first (every segment),
// then copied server-side untouched, pinned to the verified ETag; only the data key is re-wrapped for
// the destination, because each wrapped key is bound to its object's bucket and key. A plaintext
// source inside the caller's selection is read and written back encrypted instead.
import {
  CopyObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  type CopyObjectCommandInput,
  type CopyObjectCommandOutput,
  type GetObjectCommandInput,
  type GetObjectCommandOutput,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { DecryptionError } from '../errors.js';
import { FORMAT_VERSION_1 } from '../format/constants.js';
import { findEnvelope, metadataWithEnvelope, withoutEnvelope } from '../format/envelope.js';
import { lazyObjectIdentity } from '../format/identity.js';
import { rewrappedEnvelope } from '../format/object.js';
import { S3EC_INSTRUCTION_FILE_SUFFIX } from '../format/s3ec/metadata.js';
import { objectEncryptionContext } from '../keyrings/keyring.js';
import { requireString, signalOf, type HandlerContext, type SendOptions } from './context.js';
import { uploadEncrypted } from './encrypted-upload.js';
import { wrapDataKey } from './materials.js';
import { namingObject, objectRefOf } from './object-errors.js';
import { encryptedObjectInfo, s3cryptInfo, withObjectInfo } from './object-info.js';
import { checkPlaintextRead } from './plaintext-reads.js';
import { EarlyBody } from './early-body.js';
import { openAnyObject, type PlaintextObject } from './read-object.js';
import { authenticateS3ecObject, s3ecMetadataOf, type OpenedS3ecObject } from './s3ec-read.js';
import { discardBody } from './store-response.js';
import type { S3CryptRequestOptions } from './request-options.js';
import { restartingWhenReplaced, rethrowPinned } from './replaced-object.js';
import { authenticateBody } from './verify-object.js';

/** Parses `bucket/key[?versionId=…]` (URL-encoded, optional leading slash) as S3 accepts it. */
export function parseCopySource(copySource: string): { bucket: string; key: string; versionId?: string } {
  const [path = '', query] = copySource.replace(/^\//, '').split('?', 2);
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) throw new TypeError(`CopyObject: CopySource "${copySource}" must be "bucket/key"`);
  const versionId = query ? new URLSearchParams(query).get('versionId') ?? undefined : undefined;
  return { bucket: decodeURIComponent(path.slice(0, slash)), key: decodeURIComponent(path.slice(slash + 1)), ...(versionId ? { versionId } : {}) };
}

/** `bucket/key[?versionId=…]` as CopySource takes it (each path segment URL-encoded): the inverse of {@link parseCopySource}. */
export function formatCopySource(bucket: string, key: string, versionId?: string): string {
  const path = `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  return versionId && versionId !== 'null' ? `${path}?versionId=${encodeURIComponent(versionId)}` : path;
}

/** The GET that reads the copy source, with the caller's source conditions and SSE-C key. */
function sourceRequest(input: CopyObjectCommandInput, source: ReturnType<typeof parseCopySource>): GetObjectCommandInput {
  return {
    Bucket: source.bucket,
    Key: source.key,
    VersionId: source.versionId,
    IfMatch: input.CopySourceIfMatch,
    IfNoneMatch: input.CopySourceIfNoneMatch,
    IfModifiedSince: input.CopySourceIfModifiedSince,
    IfUnmodifiedSince: input.CopySourceIfUnmodifiedSince,
    SSECustomerAlgorithm: input.CopySourceSSECustomerAlgorithm,
    SSECustomerKey: input.CopySourceSSECustomerKey,
    SSECustomerKeyMD5: input.CopySourceSSECustomerKeyMD5,
    RequestPayer: input.RequestPayer,
    ExpectedBucketOwner: input.ExpectedSourceBucketOwner,
  };
}

/** The source's system headers, which a copy keeps unless the caller replaces metadata. */
function sourceHeaders(source: GetObjectCommandOutput) {
  const { ContentType, ContentEncoding, ContentDisposition, ContentLanguage, CacheControl, Expires } = source;
  return { ContentType, ContentEncoding, ContentDisposition, ContentLanguage, CacheControl, Expires };
}

export function copyObject(ctx: HandlerContext, input: CopyObjectCommandInput, options: SendOptions, s3crypt: S3CryptRequestOptions = {}): Promise<CopyObjectCommandOutput> {
  return restartingWhenReplaced(() => copyObjectOnce(ctx, input, options, s3crypt));
}

async function copyObjectOnce(ctx: HandlerContext, input: CopyObjectCommandInput, options: SendOptions, s3crypt: S3CryptRequestOptions): Promise<CopyObjectCommandOutput> {
  const bucket = requireString(input.Bucket, 'Bucket', 'CopyObject');
  const key = requireString(input.Key, 'Key', 'CopyObject');
  const source = parseCopySource(requireString(input.CopySource, 'CopySource', 'CopyObject'));
  const request = sourceRequest(input, source);
  // The source is read with its own context and, if given, must be the object the caller expects.
  const sourceContext = s3crypt.sourceEncryptionContext ?? s3crypt.encryptionContext;
  // The source is read under its own keys (a customer key of its own, or the client's) when they differ.
  const sourceCtx = ctx.source ? { ...ctx, ...ctx.source } : ctx;
  // The source's body is asked for while its tail is opened (client/early-body.ts).
  const early = new EarlyBody(sourceCtx, options);
  let opened: Awaited<ReturnType<typeof openAnyObject>>;
  try {
    opened = await openAnyObject(sourceCtx, request, options, { ...(sourceContext ? { encryptionContext: sourceContext } : {}), ...(s3crypt.expectedObjectId ? { expectedObjectId: s3crypt.expectedObjectId } : {}) }, true, { onTailHeaders: (tail) => early.start(tail) });
  } catch (error) {
    early.dispose();
    throw error;
  }
  if ('format' in opened) return copyS3ecObject(sourceCtx, input, request, opened, options);
  if (!opened.encrypted) return copyPlaintext(ctx, input, request, opened, options, s3crypt);
  try {
    // Nothing is written before every stored byte of the source has authenticated.
    const sourceObject = objectRefOf(request, opened.response.VersionId);
    await authenticateBody(sourceCtx, opened, options, early)
      .catch((error: unknown) => {
        throw namingObject(error, sourceObject);
      })
      .finally(() => early.dispose());
    const verifiedETag = opened.response.ETag;
    if (verifiedETag === undefined) throw namingObject(new DecryptionError('ERR_OBJECT_MALFORMED', 'the store did not report the ETag of the copy source'), sourceObject);
    // The copy keeps the data, so its format version: a v1 copy stays v1 (and cannot carry a caller context).
    const version = opened.envelope.version;
    const destinationContext = objectEncryptionContext(bucket, key, version, version === FORMAT_VERSION_1 ? {} : s3crypt.encryptionContext);
    const { encryptedDataKeys } = await wrapDataKey(ctx.keyring, destinationContext, opened.dataKey, signalOf(options), ctx.audit);
    const envelope = rewrappedEnvelope(opened.keys, opened.envelope, encryptedDataKeys, destinationContext);
    const replace = input.MetadataDirective === 'REPLACE';
    const Metadata = metadataWithEnvelope(replace ? input.Metadata : withoutEnvelope(opened.response.Metadata), envelope);
    // The envelope must change, so S3 has to REPLACE metadata; carry the source's headers over unless the caller replaced them.
    const output = await ctx.inner.send(
      new CopyObjectCommand({
        ...(replace ? {} : sourceHeaders(opened.response)),
        ...input,
        MetadataDirective: 'REPLACE',
        Metadata,
        // Copy exactly the version that was verified (and whose key was re-wrapped).
        CopySourceIfMatch: verifiedETag,
      }),
      options,
    ).catch(rethrowPinned);
    return withObjectInfo(output, encryptedObjectInfo(envelope.version, lazyObjectIdentity(envelope, opened.trailerTag, destinationContext)));
  } finally {
    opened.dataKey.fill(0);
  }
}

const COPY_ONLY_FIELDS = [
  'CopySource',
  'CopySourceIfMatch',
  'CopySourceIfNoneMatch',
  'CopySourceIfModifiedSince',
  'CopySourceIfUnmodifiedSince',
  'CopySourceSSECustomerAlgorithm',
  'CopySourceSSECustomerKey',
  'CopySourceSSECustomerKeyMD5',
  'ExpectedSourceBucketOwner',
  'MetadataDirective',
  'TaggingDirective',
] as const;

/** The CopyObject fields that describe the destination, as a PutObject takes them. */
function destinationFields(input: CopyObjectCommandInput): Omit<PutObjectCommandInput, 'Body' | 'ContentLength'> {
  const fields = { ...input } as Record<string, unknown>;
  for (const name of COPY_ONLY_FIELDS) delete fields[name];
  return fields as Omit<PutObjectCommandInput, 'Body' | 'ContentLength'>;
}

/** The source's tags as a Tagging header, when a copy keeps them (TaggingDirective COPY, the default). */
async function sourceTagging(ctx: HandlerContext, input: CopyObjectCommandInput, request: GetObjectCommandInput, response: GetObjectCommandOutput, options: SendOptions) {
  if (input.TaggingDirective === 'REPLACE') return input.Tagging;
  if (!response.TagCount) return undefined;
  const { Bucket, Key, VersionId, ExpectedBucketOwner, RequestPayer } = request;
  const { TagSet = [] } = await ctx.inner.send(new GetObjectTaggingCommand({ Bucket, Key, VersionId: response.VersionId ?? VersionId, ExpectedBucketOwner, RequestPayer }), options);
  return new URLSearchParams(TagSet.map(({ Key: name = '', Value = '' }) => [name, Value])).toString();
}

/** The length of a plaintext copy source, once its pinned read is checked again; failures name the source. */
async function checkPlaintextSource(ctx: HandlerContext, request: GetObjectCommandInput, response: GetObjectCommandOutput): Promise<number> {
  try {
    if (findEnvelope(response.Metadata) !== undefined) throw new DecryptionError('ERR_OBJECT_MALFORMED', 'the store answered a pinned read with different metadata');
    await checkPlaintextRead(ctx.plaintextReads, String(request.Bucket), String(request.Key), response.Metadata, { scope: ctx.audit, versionId: response.VersionId });
    const length = response.ContentLength;
    if (length === undefined || !Number.isSafeInteger(length) || length < 0) throw new DecryptionError('ERR_OBJECT_MALFORMED', 'the store did not report the length of the copy source');
    return length;
  } catch (error) {
    throw namingObject(error, objectRefOf(request, response.VersionId));
  }
}

/**
 * A source without an envelope, inside the caller's plaintext selection: the copy is written
 * encrypted, streamed from a GET of the checked version through the client's own upload path.
 */
async function copyPlaintext(
  ctx: HandlerContext,
  input: CopyObjectCommandInput,
  request: GetObjectCommandInput,
  plain: PlaintextObject,
  options: SendOptions,
  s3crypt: S3CryptRequestOptions,
): Promise<CopyObjectCommandOutput> {
  const response = await ctx.inner.send(new GetObjectCommand({ ...request, ...(plain.etag ? { IfMatch: plain.etag } : {}) }), options).catch(rethrowPinned);
  try {
    const length = await checkPlaintextSource(ctx, request, response);
    const replace = input.MetadataDirective === 'REPLACE';
    const Tagging = await sourceTagging(ctx, input, request, response, options);
    const destination = destinationFields(input);
    const written = await uploadEncrypted(
      ctx,
      { ...(replace ? {} : sourceHeaders(response)), ...destination, Metadata: replace ? input.Metadata : response.Metadata, Tagging },
      response.Body as Readable,
      length,
      options,
      s3crypt,
    );
    const { ETag, VersionId, Expiration, ServerSideEncryption, SSEKMSKeyId, BucketKeyEnabled, RequestCharged, $metadata } = written;
    const output: CopyObjectCommandOutput = {
      CopyObjectResult: { ETag },
      ...{ VersionId, CopySourceVersionId: response.VersionId, Expiration, ServerSideEncryption, SSEKMSKeyId, BucketKeyEnabled, RequestCharged },
      $metadata,
    };
    const info = s3cryptInfo(written);
    return info ? withObjectInfo(output, info) : output;
  } finally {
    discardBody(response);
  }
}

/**
 * An AWS S3 Encryption Client source: authenticated whole (nothing written otherwise), then copied in
 * the store as it is, metadata (and instruction file) included: that format does not bind an object
 * to its key, so the copy reads as the source does. Converting it to s3crypt's format is a rewrite
 * (rotateKeys with mode 'reencrypt'), not a copy.
 */
async function copyS3ecObject(ctx: HandlerContext, input: CopyObjectCommandInput, request: GetObjectCommandInput, opened: OpenedS3ecObject, options: SendOptions): Promise<CopyObjectCommandOutput> {
  const sourceObject = objectRefOf(request, opened.response.VersionId);
  await authenticateS3ecObject(ctx, opened, options).catch((error: unknown) => {
    throw namingObject(error, sourceObject);
  });
  const verifiedETag = opened.response.ETag;
  if (verifiedETag === undefined) throw namingObject(new DecryptionError('ERR_OBJECT_MALFORMED', 'the store did not report the ETag of the copy source'), sourceObject);
  const s3ecMetadata = s3ecMetadataOf(opened.response.Metadata);
  const replace = input.MetadataDirective === 'REPLACE';
  const output = await ctx.inner
    .send(
      new CopyObjectCommand({
        ...input,
        // A caller's new metadata cannot drop the content metadata the copy needs to be read.
        ...(replace ? { Metadata: { ...input.Metadata, ...s3ecMetadata } } : {}),
        CopySourceIfMatch: verifiedETag,
      }),
      options,
    )
    .catch(rethrowPinned);
  if (opened.envelope.instructionFile) {
    const { Bucket, Key } = request;
    await ctx.inner.send(
      new CopyObjectCommand({ Bucket: input.Bucket, Key: `${String(input.Key)}${S3EC_INSTRUCTION_FILE_SUFFIX}`, CopySource: formatCopySource(String(Bucket), `${String(Key)}${S3EC_INSTRUCTION_FILE_SUFFIX}`) }),
      options,
    );
  }
  return withObjectInfo(output, { encrypted: true, format: 's3ec', formatVersion: opened.envelope.formatVersion });
}
