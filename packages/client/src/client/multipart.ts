// Multipart uploads: every part is encrypted on its own (fresh salt → fresh key), so parts can go in
// parallel and be retried; CompleteMultipartUpload appends the authenticated trailer as a last part.
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
import { Readable } from 'node:stream';
import { MultipartStateError } from '../errors.js';
import { MAX_DATA_PART_NUMBER } from '../format/constants.js';
import { metadataWithEnvelope } from '../format/envelope.js';
import { newDataPart, newEnvelope, newSuiteParameters } from '../format/object.js';
import { encryptedPartLength, sealPart, sealPartStream } from '../format/segments.js';
import { sealTrailer } from '../format/trailer.js';
import { objectEncryptionContext } from '../keyrings/keyring.js';
import { plaintextBody } from './bodies.js';
import { requireString, withoutPlaintextChecksums, type HandlerContext, type SendOptions } from './context.js';
import { wrapDataKey } from './materials.js';
import type { UploadState } from './multipart-state.js';
import { lengthMismatch } from './put-object.js';

const PART_DEFAULT_FIELDS = ['ChecksumAlgorithm', 'SSECustomerAlgorithm', 'SSECustomerKey', 'SSECustomerKeyMD5', 'RequestPayer', 'ExpectedBucketOwner'] as const;
const PART_CHECKSUM_FIELDS = ['ChecksumCRC32', 'ChecksumCRC32C', 'ChecksumCRC64NVME', 'ChecksumSHA1', 'ChecksumSHA256'] as const;

export async function createMultipartUpload(
  ctx: HandlerContext,
  input: CreateMultipartUploadCommandInput,
  options: SendOptions,
): Promise<CreateMultipartUploadCommandOutput> {
  const bucket = requireString(input.Bucket, 'Bucket', 'CreateMultipartUpload');
  const key = requireString(input.Key, 'Key', 'CreateMultipartUpload');
  const params = newSuiteParameters(ctx.segmentSize);
  const { dataKey, encryptedDataKeys } = await wrapDataKey(ctx.keyring, objectEncryptionContext(bucket, key));
  let registered = false;
  try {
    const Metadata = metadataWithEnvelope(input.Metadata, newEnvelope(dataKey, params, encryptedDataKeys));
    const output = await ctx.inner.send(new CreateMultipartUploadCommand({ ...input, Metadata }), options);
    const uploadId = requireString(output.UploadId, 'UploadId', 'CreateMultipartUpload response');
    const partDefaults = Object.fromEntries(PART_DEFAULT_FIELDS.filter((f) => input[f] !== undefined).map((f) => [f, input[f]]));
    ctx.uploads.add(uploadId, { bucket, key, dataKey, params, attempts: new Map(), partDefaults });
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
  const partNumber = input.PartNumber;
  if (!Number.isInteger(partNumber) || (partNumber as number) < 1 || (partNumber as number) > MAX_DATA_PART_NUMBER) {
    throw new TypeError(`UploadPart: PartNumber must be an integer from 1 to ${MAX_DATA_PART_NUMBER} (part ${MAX_DATA_PART_NUMBER + 1} carries the s3crypt trailer)`);
  }
  const state = ctx.uploads.get(uploadId, bucket, key);
  const body = plaintextBody(input.Body, input.ContentLength, 'UploadPart');
  const { salt, key: partKey } = newDataPart(state.dataKey, state.params, partNumber as number);
  const length = body.kind === 'bytes' ? body.bytes.length : body.length;
  let stream: Readable | undefined;
  try {
    const Body =
      body.kind === 'bytes'
        ? sealPart(partKey, body.bytes, state.params.segmentSize)
        : (stream = Readable.from(sealPartStream(partKey, body.source, length, state.params.segmentSize, lengthMismatch('UploadPart', length))));
    const ContentLength = encryptedPartLength(length, state.params.segmentSize);
    const output = await ctx.inner.send(new UploadPartCommand({ ...withoutPlaintextChecksums(input), Body, ContentLength }), options);
    const eTag = requireString(output.ETag, 'ETag', 'UploadPart response');
    const attempts = state.attempts.get(partNumber as number) ?? [];
    attempts.push({ partNumber: partNumber as number, length, salt, eTag });
    state.attempts.set(partNumber as number, attempts);
    return output;
  } finally {
    stream?.destroy();
    partKey.fill(0);
  }
}

/** Which encrypted attempt of each listed part the caller completes with, matched by ETag. */
function chosenAttempts(state: UploadState, parts: readonly CompletedPart[]) {
  return [...parts]
    .sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0))
    .map((part) => {
      const attempt = state.attempts.get(part.PartNumber ?? -1)?.find((a) => a.eTag === part.ETag);
      if (!attempt) {
        throw new MultipartStateError('ERR_UNKNOWN_PART', `part ${part.PartNumber} with ETag ${part.ETag} was not uploaded through this EncryptingS3Client`);
      }
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
  const state = ctx.uploads.get(uploadId, bucket, key);
  try {
    const parts = input.MultipartUpload?.Parts ?? [];
    const attempts = chosenAttempts(state, parts);
    const trailer = sealTrailer(state.dataKey, state.params, attempts);
    const trailerPartNumber = (attempts[attempts.length - 1]?.partNumber ?? 0) + 1;
    const trailerOutput = await ctx.inner.send(
      new UploadPartCommand({ ...state.partDefaults, Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: trailerPartNumber, Body: trailer, ContentLength: trailer.length }),
      options,
    );
    const trailerPart: CompletedPart = { PartNumber: trailerPartNumber, ETag: trailerOutput.ETag };
    for (const field of PART_CHECKSUM_FIELDS) if (trailerOutput[field] !== undefined) trailerPart[field] = trailerOutput[field];
    const request = withoutPlaintextChecksums({ ...input, MultipartUpload: { Parts: [...parts, trailerPart] } });
    delete (request as Record<string, unknown>).ChecksumType; // a full-object checksum would describe the plaintext
    delete (request as Record<string, unknown>).MpuObjectSize;
    return await ctx.inner.send(new CompleteMultipartUploadCommand(request), options);
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
