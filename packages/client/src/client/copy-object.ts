// CopyObject through the client: the data is copied server-side untouched; only the data key is
// re-wrapped for the destination, because each wrapped key is bound to its object's bucket and key.
import { CopyObjectCommand, HeadObjectCommand, type CopyObjectCommandInput, type CopyObjectCommandOutput } from '@aws-sdk/client-s3';
import { NotEncryptedError } from '../errors.js';
import { CURRENT_FORMAT_VERSION, FORMAT_VERSION_1 } from '../format/constants.js';
import { findEnvelope, metadataWithEnvelope, parseEnvelope, withoutEnvelope } from '../format/envelope.js';
import { rewrappedEnvelope } from '../format/object.js';
import { objectEncryptionContext } from '../keyrings/keyring.js';
import { objectName, requireString, signalOf, type HandlerContext, type SendOptions } from './context.js';
import { unwrapDataKey, wrapDataKey } from './materials.js';
import type { S3CryptRequestOptions } from './request-options.js';

/** Parses `bucket/key[?versionId=…]` (URL-encoded, optional leading slash) as S3 accepts it. */
export function parseCopySource(copySource: string): { bucket: string; key: string; versionId?: string } {
  const [path = '', query] = copySource.replace(/^\//, '').split('?', 2);
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) throw new TypeError(`CopyObject: CopySource "${copySource}" must be "bucket/key"`);
  const versionId = query ? new URLSearchParams(query).get('versionId') ?? undefined : undefined;
  return { bucket: decodeURIComponent(path.slice(0, slash)), key: decodeURIComponent(path.slice(slash + 1)), ...(versionId ? { versionId } : {}) };
}

export async function copyObject(ctx: HandlerContext, input: CopyObjectCommandInput, options: SendOptions, request: S3CryptRequestOptions = {}): Promise<CopyObjectCommandOutput> {
  const bucket = requireString(input.Bucket, 'Bucket', 'CopyObject');
  const key = requireString(input.Key, 'Key', 'CopyObject');
  const source = parseCopySource(requireString(input.CopySource, 'CopySource', 'CopyObject'));
  const head = await ctx.inner.send(
    new HeadObjectCommand({
      Bucket: source.bucket,
      Key: source.key,
      VersionId: source.versionId,
      SSECustomerAlgorithm: input.CopySourceSSECustomerAlgorithm,
      SSECustomerKey: input.CopySourceSSECustomerKey,
      SSECustomerKeyMD5: input.CopySourceSSECustomerKeyMD5,
      ExpectedBucketOwner: input.ExpectedSourceBucketOwner,
    }),
    options,
  );
  const envelopeValue = findEnvelope(head.Metadata);
  if (envelopeValue === undefined) {
    if (ctx.allowPlaintextReads) return ctx.inner.send(new CopyObjectCommand(input), options);
    throw new NotEncryptedError(`${source.bucket}/${source.key} has no s3crypt envelope; refusing to copy it as if it were encrypted`);
  }
  const envelope = parseEnvelope(envelopeValue);
  const sourceContext = objectEncryptionContext(source.bucket, source.key, envelope.version, request.sourceEncryptionContext ?? request.encryptionContext);
  const signal = signalOf(options);
  const { dataKey } = await unwrapDataKey(ctx.keyring, ctx.policy, envelope, sourceContext, objectName(source.bucket, source.key), signal);
  try {
    // The copy keeps the data, so its version; a v1 copy stays v1 (its part keys are v1's).
    const destinationContext =
      envelope.version === FORMAT_VERSION_1 ? objectEncryptionContext(bucket, key, FORMAT_VERSION_1) : objectEncryptionContext(bucket, key, CURRENT_FORMAT_VERSION, request.encryptionContext);
    const { encryptedDataKeys } = await wrapDataKey(ctx.keyring, destinationContext, dataKey, signal);
    const replace = input.MetadataDirective === 'REPLACE';
    const Metadata = metadataWithEnvelope(replace ? input.Metadata : withoutEnvelope(head.Metadata), rewrappedEnvelope(dataKey, envelope, encryptedDataKeys, destinationContext));
    // The envelope must change, so S3 has to REPLACE metadata; carry the source's headers over unless the caller replaced them.
    const sourceHeaders = replace
      ? {}
      : {
          ContentType: head.ContentType,
          ContentEncoding: head.ContentEncoding,
          ContentDisposition: head.ContentDisposition,
          ContentLanguage: head.ContentLanguage,
          CacheControl: head.CacheControl,
          Expires: head.Expires,
        };
    return await ctx.inner.send(
      new CopyObjectCommand({
        ...sourceHeaders,
        ...input,
        MetadataDirective: 'REPLACE',
        Metadata,
        // Copy exactly the version whose key we re-wrapped.
        CopySourceIfMatch: input.CopySourceIfMatch ?? head.ETag,
      }),
      options,
    );
  } finally {
    dataKey.fill(0);
  }
}
