// Writing a plaintext stream of known length through the client's own encrypting handlers: one
// PutObject, or for objects a single PUT cannot hold, a multipart upload of consecutive slices of the
// stream, one part at a time, so memory stays bounded by the part buffers whatever the object size.
import type { CompletedPart, CompleteMultipartUploadCommandOutput, PutObjectCommandInput, PutObjectCommandOutput } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { BodyLengthError } from '../errors.js';
import { MAX_DATA_PART_NUMBER, MAX_PART_LENGTH } from '../format/constants.js';
import { encryptedObjectLength } from '../format/object.js';
import { CHECKSUM_FIELDS, type HandlerContext, type SendOptions } from './context.js';
import { abortMultipartUpload, completeMultipartUpload, createMultipartUpload, uploadPart } from './multipart.js';
import { putObject } from './put-object.js';
import type { S3CryptRequestOptions } from './request-options.js';

/** What the written object's output says, whichever way it was written. */
export type UploadOutput = PutObjectCommandOutput | CompleteMultipartUploadCommandOutput;

export interface UploadLimits {
  /** Largest stored object written with one PutObject. */
  readonly singlePutLimit: number;
  /** Plaintext bytes per part of a multipart upload (raised if the object would need more than 9999 parts). */
  readonly partSize: number;
}

const DEFAULT_LIMITS: UploadLimits = { singlePutLimit: MAX_PART_LENGTH, partSize: 64 * 1024 * 1024 };

/** Consecutive slices of one byte stream. */
class Slices {
  readonly #iterator: AsyncIterator<Uint8Array>;
  #pending: Uint8Array | undefined;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#iterator = source[Symbol.asyncIterator]();
  }

  /** The next `length` bytes (fewer if the stream ends first). */
  async *take(length: number): AsyncGenerator<Uint8Array> {
    let left = length;
    while (left > 0) {
      let chunk = this.#pending;
      this.#pending = undefined;
      if (!chunk) {
        const next = await this.#iterator.next();
        if (next.done) return;
        chunk = next.value;
      }
      if (chunk.length > left) {
        this.#pending = chunk.subarray(left);
        chunk = chunk.subarray(0, left);
      }
      left -= chunk.length;
      yield chunk;
    }
  }

  async exhausted(): Promise<boolean> {
    return this.#pending === undefined && (await this.#iterator.next()).done === true;
  }
}

async function uploadInParts(
  ctx: HandlerContext,
  input: Omit<PutObjectCommandInput, 'Body' | 'ContentLength'>,
  source: AsyncIterable<Uint8Array>,
  length: number,
  options: SendOptions,
  s3crypt: S3CryptRequestOptions,
  partSize: number,
): Promise<UploadOutput> {
  const { IfMatch, IfNoneMatch, ...createInput } = input;
  const { Bucket, Key, SSECustomerAlgorithm, SSECustomerKey, SSECustomerKeyMD5, RequestPayer, ExpectedBucketOwner } = input;
  const { UploadId } = await createMultipartUpload(ctx, createInput, options, s3crypt);
  const size = Math.max(partSize, Math.ceil(length / MAX_DATA_PART_NUMBER));
  const slices = new Slices(source);
  const parts: CompletedPart[] = [];
  try {
    for (let offset = 0, PartNumber = 1; offset < length; offset += size, PartNumber++) {
      const ContentLength = Math.min(size, length - offset);
      const Body = Readable.from(slices.take(ContentLength));
      const output = await uploadPart(ctx, { Bucket, Key, UploadId, PartNumber, Body, ContentLength, SSECustomerAlgorithm, SSECustomerKey, SSECustomerKeyMD5, RequestPayer, ExpectedBucketOwner }, options);
      const part: CompletedPart = { PartNumber, ETag: output.ETag };
      for (const field of CHECKSUM_FIELDS) if (output[field] !== undefined) part[field] = output[field];
      parts.push(part);
    }
    if (!(await slices.exhausted())) throw new BodyLengthError(`the source yielded more than its ${length} bytes`);
  } catch (error) {
    await abortMultipartUpload(ctx, { Bucket, Key, UploadId, ExpectedBucketOwner }, options).catch(() => undefined);
    throw error;
  }
  return completeMultipartUpload(ctx, { Bucket, Key, UploadId, MultipartUpload: { Parts: parts }, IfMatch, IfNoneMatch, SSECustomerAlgorithm, SSECustomerKey, SSECustomerKeyMD5, RequestPayer, ExpectedBucketOwner }, options);
}

/**
 * Encrypts and stores `length` plaintext bytes streamed from `source`, which must yield exactly that
 * many (else `ERR_BODY_LENGTH_MISMATCH` and nothing is stored).
 */
export async function uploadEncrypted(
  ctx: HandlerContext,
  input: Omit<PutObjectCommandInput, 'Body' | 'ContentLength'>,
  source: AsyncIterable<Uint8Array>,
  length: number,
  options: SendOptions,
  s3crypt: S3CryptRequestOptions = {},
  limits: UploadLimits = DEFAULT_LIMITS,
): Promise<UploadOutput> {
  if (encryptedObjectLength(length, ctx.segmentSize, ctx.signerId !== undefined) <= limits.singlePutLimit) {
    return putObject(ctx, { ...input, Body: Readable.from(source), ContentLength: length }, options, s3crypt);
  }
  return uploadInParts(ctx, input, source, length, options, s3crypt, limits.partSize);
}
