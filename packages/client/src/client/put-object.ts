import { PutObjectCommand, type PutObjectCommandInput, type PutObjectCommandOutput } from '@aws-sdk/client-s3';
import { metadataWithEnvelope } from '../format/envelope.js';
import { encryptedObjectLength, newEnvelope, newSuiteParameters, sealObject, sealObjectStream } from '../format/object.js';
import { objectEncryptionContext } from '../keyrings/keyring.js';
import { lengthMismatch, plaintextBody } from './bodies.js';
import { requireString, withoutPlaintextChecksums, type HandlerContext, type SendOptions } from './context.js';
import { wrapDataKey } from './materials.js';
import { sendEncryptedStream } from './streaming.js';

export async function putObject(ctx: HandlerContext, input: PutObjectCommandInput, options: SendOptions): Promise<PutObjectCommandOutput> {
  const bucket = requireString(input.Bucket, 'Bucket', 'PutObject');
  const key = requireString(input.Key, 'Key', 'PutObject');
  const body = plaintextBody(input.Body, input.ContentLength, 'PutObject');
  const params = newSuiteParameters(ctx.segmentSize);
  // Nothing is sent before the key is wrapped: a keyring failure throws here.
  const { dataKey, encryptedDataKeys } = await wrapDataKey(ctx.keyring, objectEncryptionContext(bucket, key));
  try {
    const Metadata = metadataWithEnvelope(input.Metadata, newEnvelope(dataKey, params, encryptedDataKeys));
    const request = { ...withoutPlaintextChecksums(input), Metadata };
    if (body.kind === 'bytes') {
      const ciphertext = sealObject(dataKey, params, body.bytes);
      return await ctx.inner.send(new PutObjectCommand({ ...request, Body: ciphertext, ContentLength: ciphertext.length }), options);
    }
    const ContentLength = encryptedObjectLength(body.length, params.segmentSize);
    const sealed = sealObjectStream(dataKey, params, body.source, body.length, lengthMismatch('PutObject', body.length));
    return await sendEncryptedStream(sealed, options, (Body, sendOptions) => ctx.inner.send(new PutObjectCommand({ ...request, Body, ContentLength }), sendOptions));
  } finally {
    dataKey.fill(0);
  }
}
