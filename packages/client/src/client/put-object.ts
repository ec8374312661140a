import { PutObjectCommand, type PutObjectCommandInput, type PutObjectCommandOutput } from '@aws-sdk/client-s3';
import { CURRENT_FORMAT_VERSION } from '../format/constants.js';
import { isSignedSuite, metadataWithEnvelope } from '../format/envelope.js';
import { lazyObjectIdentity } from '../format/identity.js';
import { encryptedObjectLength, newEnvelope, newSuiteParameters, sealObject, sealObjectStream } from '../format/object.js';
import { KeySchedule } from '../format/keys.js';
import { trailerLength, trailerTagOf } from '../format/trailer.js';
import { objectEncryptionContext } from '../keyrings/keyring.js';
import { lengthMismatch, plaintextBody } from './bodies.js';
import { requireString, signalOf, withoutPlaintextChecksums, type HandlerContext, type SendOptions } from './context.js';
import { wrapDataKey } from './materials.js';
import { encryptedObjectInfo, withObjectInfo } from './object-info.js';
import { PlaintextChecksums, withPlaintextChecksums } from './plaintext-checksums.js';
import type { S3CryptRequestOptions } from './request-options.js';
import { sendEncryptedStream } from './streaming.js';
import { putS3ecObject, s3ecWriteFor } from './s3ec-write.js';

/** Passes a sealed stream through, keeping its last chunk (the trailer, always yielded whole). */
async function* keepingLast(source: AsyncIterable<Buffer>, last: { chunk?: Buffer }): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    last.chunk = chunk;
    yield chunk;
  }
}

export async function putObject(ctx: HandlerContext, input: PutObjectCommandInput, options: SendOptions, request: S3CryptRequestOptions = {}): Promise<PutObjectCommandOutput> {
  const s3ecWrite = s3ecWriteFor(ctx, request);
  if (s3ecWrite) return putS3ecObject(ctx, input, options, request, s3ecWrite);
  const bucket = requireString(input.Bucket, 'Bucket', 'PutObject');
  const key = requireString(input.Key, 'Key', 'PutObject');
  const body = plaintextBody(input.Body, input.ContentLength, 'PutObject');
  const checksums = PlaintextChecksums.of(input);
  if (body.kind === 'bytes') {
    checksums.update(body.bytes);
    await checksums.verify();
  }
  const params = newSuiteParameters(ctx.segmentSize, ctx.signerId);
  const context = objectEncryptionContext(bucket, key, CURRENT_FORMAT_VERSION, request.encryptionContext);
  // Nothing is sent before the key is wrapped: a keyring failure throws here.
  const { dataKey, encryptedDataKeys } = await wrapDataKey(ctx.keyring, context, undefined, signalOf(options), ctx.audit);
  try {
    const keys = new KeySchedule(dataKey, params.messageId);
    const envelope = newEnvelope(keys, params, encryptedDataKeys, context);
    const Metadata = metadataWithEnvelope(input.Metadata, envelope);
    const ChecksumAlgorithm = input.ChecksumAlgorithm ?? checksums.suppliedAlgorithm();
    const putRequest = { ...withoutPlaintextChecksums(input), Metadata, ...(ChecksumAlgorithm ? { ChecksumAlgorithm } : {}) };
    let output: PutObjectCommandOutput;
    let trailer: Uint8Array;
    if (body.kind === 'bytes') {
      const ciphertext = sealObject(keys, params, body.bytes, ctx.signingKey);
      output = await ctx.inner.send(new PutObjectCommand({ ...putRequest, Body: ciphertext, ContentLength: ciphertext.length }), options);
      trailer = ciphertext.subarray(ciphertext.length - trailerLength(1, isSignedSuite(params)));
    } else {
      const ContentLength = encryptedObjectLength(body.length, params.segmentSize, isSignedSuite(params));
      const last: { chunk?: Buffer } = {};
      const sealed = keepingLast(sealObjectStream(keys, params, checksums.tap(body.source), body.length, lengthMismatch('PutObject', body.length), ctx.signingKey), last);
      output = await sendEncryptedStream(sealed, options, (Body, sendOptions) => ctx.inner.send(new PutObjectCommand({ ...putRequest, Body, ContentLength }), sendOptions));
      trailer = last.chunk ?? new Uint8Array(0);
    }
    const plaintextOutput = withPlaintextChecksums(output, await checksums.verify(), 'FULL_OBJECT');
    return withObjectInfo(plaintextOutput, encryptedObjectInfo(envelope.version, lazyObjectIdentity(envelope, trailerTagOf(trailer), context)));
  } finally {
    dataKey.fill(0);
  }
}
