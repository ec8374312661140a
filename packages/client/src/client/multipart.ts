// Multipart uploads: every part is encrypted on its own (fresh salt → fresh key), so parts can go in
// parallel and be retried; CompleteMultipartUpload appends the authenticated trailer as a last part.
// Uploads in the AWS S3 Encryption Client's format go to s3ec-multipart.ts (one stream, parts in order).
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type AbortMultipartUploadCommandInput,
  type AbortMultipartUploadCommandOutput,
  type CompleteMultipartUploadCommandInput,
  type CompleteMultipartUploadCommandOutput,
  type CompletedPart,
  type CreateMultipartUploadCommandInput,
  type CreateMultipartUploadCommandOutput,
  type UploadPartCommandInput,
  type UploadPartCommandOutput,
} from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { MultipartStateError } from '../errors.js';
import { MAX_DATA_PART_NUMBER, MIN_PART_LENGTH } from '../format/constants.js';
import { CURRENT_FORMAT_VERSION } from '../format/constants.js';
import { metadataWithEnvelope } from '../format/envelope.js';
import { lazyObjectIdentity } from '../format/identity.js';
import { KeySchedule } from '../format/keys.js';
import { newDataPart, newEnvelope, newSuiteParameters } from '../format/object.js';
import { encryptedPartLength, sealPart, sealPartStream } from '../format/segments.js';
import { trailerTagOf } from '../format/trailer.js';
import { objectEncryptionContext } from '../keyrings/keyring.js';
import { lengthMismatch, plaintextBody } from './bodies.js';
import { requireString, signalOf, withoutPlaintextChecksums, type HandlerContext, type SendOptions } from './context.js';
import { checkUploadKey, customerKeyIdOf } from './customer-keys.js';
import { wrapDataKey } from './materials.js';
import { encryptedObjectInfo, withObjectInfo } from './object-info.js';
import { finalPartFor, likelyAttempts, sendFinalPart } from './final-part.js';
import { checksumValuesOf, invalidPart, PlaintextChecksums, withPlaintextChecksums, type ChecksumValues } from './plaintext-checksums.js';
import type { S3CryptRequestOptions } from './request-options.js';
import type { PartAttempt, UploadState } from './multipart-state.js';
import { collect, sendEncryptedStream } from './streaming.js';
import { completeS3ecMultipartUpload, createS3ecMultipartUpload, uploadS3ecPart } from './s3ec-multipart.js';
import { s3ecWriteFor } from './s3ec-write.js';

const PART_DEFAULT_FIELDS = ['ChecksumAlgorithm', 'SSECustomerAlgorithm', 'SSECustomerKey', 'SSECustomerKeyMD5', 'RequestPayer', 'ExpectedBucketOwner'] as const;

export async function createMultipartUpload(
  ctx: HandlerContext,
  input: CreateMultipartUploadCommandInput,
  options: SendOptions,
  request: S3CryptRequestOptions = {},
): Promise<CreateMultipartUploadCommandOutput> {
  const s3ecWrite = s3ecWriteFor(ctx, request);
  if (s3ecWrite) return createS3ecMultipartUpload(ctx, input, options, request, s3ecWrite);
  const bucket = requireString(input.Bucket, 'Bucket', 'CreateMultipartUpload');
  const key = requireString(input.Key, 'Key', 'CreateMultipartUpload');
  const context = objectEncryptionContext(bucket, key, CURRENT_FORMAT_VERSION, request.encryptionContext);
  const { dataKey, encryptedDataKeys } = await wrapDataKey(ctx.keyring, context, undefined, signalOf(options), ctx.audit);
  let registered = false;
  try {
    const suite = newSuiteParameters(ctx.segmentSize, ctx.signerId);
    const keys = new KeySchedule(dataKey, suite.messageId);
    const params = newEnvelope(keys, suite, encryptedDataKeys, context);
    const Metadata = metadataWithEnvelope(input.Metadata, params);
    const output = await ctx.inner.send(new CreateMultipartUploadCommand({ ...input, Metadata }), options);
    const uploadId = requireString(output.UploadId, 'UploadId', 'CreateMultipartUpload response');
    const partDefaults = Object.fromEntries(PART_DEFAULT_FIELDS.filter((f) => input[f] !== undefined).map((f) => [f, input[f]]));
    const customerKeyId = customerKeyIdOf(ctx, encryptedDataKeys);
    ctx.uploads.add(uploadId, {
      bucket,
      key,
      dataKey,
      keys,
      params,
      context,
      attempts: new Map(),
      partDefaults,
      inFlight: new Set(),
      spareCiphertext: [],
      customerKeys: request.customerKeys ?? 'client-side',
      ...(customerKeyId !== undefined ? { customerKeyId } : {}),
    });
    registered = true;
    return output;
  } finally {
    if (!registered) dataKey.fill(0);
  }
}

export async function uploadPart(ctx: HandlerContext, input: UploadPartCommandInput, options: SendOptions): Promise<UploadPartCommandOutput> {
  const bucket = requireString(input.Bucket, 'Bucket', 'UploadPart');
  const key = requireString(input.Key, 'Key', 'UploadPart');
  const uploadId = requireString(input.UploadId, 'UploadId', 'UploadPart');
  // Before any await: an S3EC upload's parts are encrypted in the order their UploadParts are sent.
  const s3ecUpload = ctx.uploads.s3ec(uploadId, bucket, key);
  if (s3ecUpload) return uploadS3ecPart(ctx, s3ecUpload, input, options);
  const partNumber = input.PartNumber ?? NaN;
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_DATA_PART_NUMBER) {
    throw new TypeError(`UploadPart: PartNumber must be an integer from 1 to ${MAX_DATA_PART_NUMBER} (part ${MAX_DATA_PART_NUMBER + 1} carries the s3crypt trailer)`);
  }
  const state = ctx.uploads.get(uploadId, bucket, key);
  await checkUploadKey(ctx, state, true, 'UploadPart');
  const body = plaintextBody(input.Body, input.ContentLength, 'UploadPart');
  const checksums = PlaintextChecksums.of(input);
  if (body.kind === 'bytes') {
    checksums.update(body.bytes);
    await checksums.verify();
  }
  const length = body.kind === 'bytes' ? body.bytes.length : body.length;
  const ContentLength = encryptedPartLength(length, state.params.segmentSize);
  const { salt, key: partKey } = newDataPart(state.keys, state.params, partNumber);
  // Read at record time: retries of one part number may be in flight together.
  const earlier = () => state.attempts.get(partNumber) ?? [];
  try {
    const sealStream = (source: AsyncIterable<Uint8Array>) => sealPartStream(partKey, checksums.tap(source), length, state.params.segmentSize, lengthMismatch('UploadPart', length));
    if (ContentLength < MIN_PART_LENGTH) {
      // Only the last part may be this small, and the trailer must follow it in the same S3 part
      // (a separate trailer part would make it a too-small non-final part): hold it until Complete.
      const other = [...state.attempts.values()].flat().find((attempt) => attempt.held && attempt.partNumber !== partNumber);
      if (other) throw new TypeError(`UploadPart: parts ${other.partNumber} and ${partNumber} are both smaller than 5 MiB; only the last part may be`);
      const held = body.kind === 'bytes' ? sealPart(partKey, body.bytes, state.params.segmentSize) : await collect(sealStream(body.source));
      const eTag = `"s3crypt-held-${partNumber}-${randomUUID()}"`;
      const attempt = { partNumber, length, salt, eTag, held, plaintextChecksums: await checksums.verify(), storedChecksums: {} };
      await sendHeldPartEarly(ctx, state, uploadId, attempt, options);
      // S3 keeps only a part number's latest upload; so does the client for held parts, which bounds
      // their memory to one ≤ 5 MiB ciphertext per upload however often the part is retried.
      state.attempts.set(partNumber, [...earlier().filter((earlierAttempt) => !earlierAttempt.held), attempt]);
      return { ETag: eTag, ...attempt.plaintextChecksums, $metadata: { httpStatusCode: 200 } };
    }
    // A part is checksummed in transit with the upload's algorithm (S3 requires it), else the caller's.
    const ChecksumAlgorithm = input.ChecksumAlgorithm ?? state.partDefaults.ChecksumAlgorithm ?? checksums.suppliedAlgorithm();
    const request = { ...withoutPlaintextChecksums(input), ...(ChecksumAlgorithm ? { ChecksumAlgorithm } : {}) } as UploadPartCommandInput;
    const send = (Body: Buffer | Readable, sendOptions: SendOptions) => ctx.inner.send(new UploadPartCommand({ ...request, Body, ContentLength }), sendOptions);
    const sendAndRecord = async () => {
      let output;
      if (body.kind === 'bytes') {
        const spare = state.spareCiphertext.findIndex((buffer) => buffer.length === ContentLength);
        const ciphertext = sealPart(partKey, body.bytes, state.params.segmentSize, undefined, spare >= 0 ? state.spareCiphertext.splice(spare, 1)[0] : undefined);
        output = await send(ciphertext, options);
        // Acknowledged: the SDK is done with the body. (After a failure it is not reused: a retry may still hold it.)
        if (state.spareCiphertext.length < MAX_SPARE_CIPHERTEXT) state.spareCiphertext.push(ciphertext);
      } else {
        output = await sendEncryptedStream(sealStream(body.source), options, send);
      }
      const eTag = requireString(output.ETag, 'ETag', 'UploadPart response');
      const plaintextChecksums = await checksums.verify();
      state.attempts.set(partNumber, [...earlier(), { partNumber, length, salt, eTag, plaintextChecksums, storedChecksums: checksumValuesOf(output) }]);
      return withPlaintextChecksums(output, plaintextChecksums);
    };
    const sending = sendAndRecord();
    state.inFlight.add(sending);
    try {
      return await sending;
    } finally {
      state.inFlight.delete(sending);
    }
  } finally {
    partKey.fill(0);
  }
}

/** Ciphertext buffers kept per upload for reuse (about lib-storage's default parts in flight). */
const MAX_SPARE_CIPHERTEXT = 4;

/**
 * A held last part goes out with the trailer as soon as the parts before it have (not only at
 * Complete), so an UploadPart that resolves has really sent its bytes and progress reports (such as
 * lib-storage's, counted as parts resolve) stay honest. The trailer covers the latest attempt of every
 * part number; if Complete lists other attempts, it uploads the final part again.
 */
async function sendHeldPartEarly(ctx: HandlerContext, state: UploadState, uploadId: string, held: PartAttempt, options: SendOptions): Promise<void> {
  await Promise.allSettled([...state.inFlight]);
  ctx.uploads.get(uploadId, state.bucket, state.key); // not aborted or completed meanwhile
  const attempts = likelyAttempts(state, held);
  if (attempts) state.finalPart = await sendFinalPart(ctx, state, uploadId, attempts, options);
}

/**
 * Which encrypted attempt of each listed part the caller completes with, matched by ETag; a checksum
 * listed with a part must be the plaintext checksum its UploadPart reported.
 */
function chosenAttempts(state: UploadState, parts: readonly CompletedPart[]) {
  return [...parts]
    .sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0))
    .map((part) => {
      const attempt = state.attempts.get(part.PartNumber ?? -1)?.find((a) => a.eTag === part.ETag);
      if (!attempt) {
        throw new MultipartStateError('ERR_UNKNOWN_PART', `part ${part.PartNumber} with ETag ${part.ETag} was not uploaded through this EncryptingS3Client`);
      }
      const listed = checksumValuesOf(part);
      if (Object.entries(listed).some(([field, value]) => attempt.plaintextChecksums[field as keyof ChecksumValues] !== value)) throw invalidPart(part.PartNumber);
      return attempt;
    });
}

export async function completeMultipartUpload(
  ctx: HandlerContext,
  input: CompleteMultipartUploadCommandInput,
  options: SendOptions,
): Promise<CompleteMultipartUploadCommandOutput> {
  const bucket = requireString(input.Bucket, 'Bucket', 'CompleteMultipartUpload');
  const key = requireString(input.Key, 'Key', 'CompleteMultipartUpload');
  const uploadId = requireString(input.UploadId, 'UploadId', 'CompleteMultipartUpload');
  const s3ecUpload = ctx.uploads.s3ec(uploadId, bucket, key);
  if (s3ecUpload) return completeS3ecMultipartUpload(ctx, s3ecUpload, uploadId, input, options);
  const state = ctx.uploads.get(uploadId, bucket, key);
  // Refused before anything is sent, so the upload stays open for a Complete without them.
  await checkUploadKey(ctx, state, false, 'CompleteMultipartUpload');
  const wholeObject = Object.keys(checksumValuesOf(input));
  if (wholeObject.length > 0) {
    throw new TypeError(`CompleteMultipartUpload: a whole-object ${wholeObject.join(', ')} cannot be verified through EncryptingS3Client; give checksums with each UploadPart`);
  }
  try {
    const parts = input.MultipartUpload?.Parts ?? [];
    const attempts = chosenAttempts(state, parts);
    if (attempts.slice(0, -1).some((attempt) => attempt.held)) {
      throw new TypeError('CompleteMultipartUpload: only the last part may be smaller than 5 MiB');
    }
    const { trailer, part: finalPart } = finalPartFor(state, attempts) ?? (await sendFinalPart(ctx, state, uploadId, attempts, options));
    const storedParts = attempts.filter((attempt) => !attempt.held).map((attempt): CompletedPart => ({ PartNumber: attempt.partNumber, ETag: attempt.eTag, ...attempt.storedChecksums }));
    const completedParts = [...storedParts, finalPart];
    const request = withoutPlaintextChecksums({ ...input, MultipartUpload: { Parts: completedParts } });
    delete (request as Record<string, unknown>).ChecksumType; // a full-object checksum would describe the plaintext
    delete (request as Record<string, unknown>).MpuObjectSize;
    const output = withPlaintextChecksums(await ctx.inner.send(new CompleteMultipartUploadCommand(request), options), {});
    return withObjectInfo(output, encryptedObjectInfo(state.params.version, lazyObjectIdentity(state.params, trailerTagOf(trailer), state.context)));
  } catch (error) {
    // Fail closed: an upload we could not seal must not linger as a half-written object.
    await ctx.inner
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, ExpectedBucketOwner: input.ExpectedBucketOwner }))
      .catch(() => undefined);
    throw error;
  } finally {
    ctx.uploads.end(uploadId);
  }
}

export async function abortMultipartUpload(
  ctx: HandlerContext,
  input: AbortMultipartUploadCommandInput,
  options: SendOptions,
): Promise<AbortMultipartUploadCommandOutput> {
  if (typeof input.UploadId === 'string') ctx.uploads.end(input.UploadId);
  return ctx.inner.send(new AbortMultipartUploadCommand(input), options);
}
