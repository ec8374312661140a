// CopyObject through the client: the data is copied server-side untouched; only the data key is
// re-wrapped for the destination, because each wrapped key is bound to its object's bucket and key.
import { CopyObjectCommand, HeadObjectCommand, type CopyObjectCommandInput, type CopyObjectCommandOutput } from '@aws-sdk/client-s3';
import { NotEncryptedError } from '../errors.js';
import { findEnvelope, metadataWithEnvelope, parseEnvelope, withoutEnvelope } from '../format/envelope.js';
import { objectEncryptionContext } from '../keyrings/keyring.js';
import { requireString, type HandlerContext, type SendOptions } from './context.js';
import { unwrapDataKey, wrapDataKey } from './materials.js';

/** Parses `bucket/key[?versionId=…]` (URL-encoded, optional leading slash) as S3 accepts it. */
export function parseCopySource(copySource: string): { bucket: string; key: string; versionId?: string } {
  const [path = '', query] = copySource.replace(/^\//, '').split('?', 2);
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) throw new TypeError(`CopyObject: CopySource "${copySource}" must be "bucket/key"`);
  const versionId = query ? new URLSearchParams(query).get('versionId') ?? undefined : undefined;
  return { bucket: decodeURIComponent(path.slice(0, slash)), key: decodeURIComponent(path.slice(slash + 1)), ...(versionId ? { versionId } : {}) };
}

export async function copyObject(ctx: HandlerContext, input: CopyObjectCommandInput, options: SendOptions): Promise<CopyObjectCommandOutput> {
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
  const dataKey = await unwrapDataKey(ctx.keyring, envelope, objectEncryptionContext(source.bucket, source.key));
  try {
    const { encryptedDataKeys } = await wrapDataKey(ctx.keyring, objectEncryptionContext(bucket, key), dataKey);
    const replace = input.MetadataDirective === 'REPLACE';
    const Metadata = metadataWithEnvelope(replace ? input.Metadata : withoutEnvelope(head.Metadata), { ...envelope, encryptedDataKeys });
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
