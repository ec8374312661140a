// Multipart uploads in the AWS S3 Encryption Client's format V3. Unlike s3crypt's parts (each sealed
// on its own), S3EC's content is ONE AES-GCM stream over the whole object with the tag at its very
// end, so:
// - CreateMultipartUpload wraps the key and writes all the metadata (everything is known then);
// - parts are encrypted strictly in order 1, 2, 3…, each as its UploadPart is called (lib-storage
//   calls them in order; their requests may still overlap on the wire). A part out of order is
//   refused before anything is sent, never encrypted at the wrong place in the stream;
// - a part smaller than 5 MiB can only be the last one: the stream is finished there and the tag
//   appended to it. If the last part was full-size, CompleteMultipartUpload appends a 16-byte part
//   holding the tag;
// - a part sent again (a retry) must have the very bytes of the first attempt (checked by SHA-256
//   before anything is sent): its ciphertext is produced again from GCM's keystream at its offset, so
//   no keystream is ever used for two different plaintexts.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type CompleteMultipartUploadCommandInput,
  type CompleteMultipartUploadCommandOutput,
  type CompletedPart,
  type CreateMultipartUploadCommandInput,
  type CreateMultipartUploadCommandOutput,
  type UploadPartCommandInput,
  type UploadPartCommandOutput,
} from '@aws-sdk/client-s3';
import { createCipheriv, createHash, timingSafeEqual, type CipherGCM } from 'node:crypto';
import type { Readable } from 'node:stream';
import { MultipartStateError } from '../errors.js';
import { MAX_DATA_PART_NUMBER, MIN_PART_LENGTH } from '../format/constants.js';
import { S3EC_V3_IV } from '../format/s3ec/content-cipher.js';
import { S3EC_GCM_TAG_LENGTH } from '../format/s3ec/metadata.js';
import { lengthMismatch, plaintextBody } from './bodies.js';
import { objectName, requireString, withoutPlaintextChecksums, type HandlerContext, type SendOptions } from './context.js';
import { checkUploadKey } from './customer-keys.js';
import { withObjectInfo } from './object-info.js';
import { checksumValuesOf, invalidPart, PlaintextChecksums, withPlaintextChecksums, type ChecksumValues } from './plaintext-checksums.js';
import type { CustomerKeyHandling, S3CryptRequestOptions } from './request-options.js';
import type { ResolvedS3ecWrite } from './s3ec-options.js';
import {
  deleteInstructionFile,
  finishS3ecStream,
  instructionFileFields,
  putInstructionFile,
  refuseConditionalWithInstructionFile,
  S3EC_MAX_PLAINTEXT,
  S3EC_V3_WRITTEN,
  s3ecEncryptStream,
  s3ecWriteMaterials,
} from './s3ec-write.js';
import { sendEncryptedStream } from './streaming.js';
import { quoteUntrusted } from '../untrusted-text.js';

const PART_DEFAULT_FIELDS = ['ChecksumAlgorithm', 'SSECustomerAlgorithm', 'SSECustomerKey', 'SSECustomerKeyMD5', 'RequestPayer', 'ExpectedBucketOwner'] as const;

/** One part of the stream: where its plaintext sits, what it was, and the attempts S3 acknowledged. */
interface S3ecPart {
  readonly offset: number;
  readonly length: number;
  /** Ends the stream: its stored bytes are its ciphertext and the tag. */
  readonly last: boolean;
  /** SHA-256 of its plaintext, once all of it went through the cipher. */
  digest?: Buffer;
  /** By ETag. */
  readonly attempts: Map<string, { readonly plaintextChecksums: ChecksumValues; readonly storedChecksums: ChecksumValues }>;
}

/** An S3EC multipart upload in progress (see the module comment). */
export interface S3ecUploadState {
  readonly bucket: string;
  readonly key: string;
  readonly cipher: CipherGCM;
  /** GCM's content key, to encrypt a retried part again; zeroed when the upload ends. */
  readonly contentKey: Buffer;
  readonly instructionFile?: string;
  readonly instructionFileFields: ReturnType<typeof instructionFileFields>;
  readonly partDefaults: Record<string, unknown>;
  readonly customerKeys: CustomerKeyHandling;
  /** Index = part number − 1. */
  readonly parts: S3ecPart[];
  plaintextLength: number;
  /** Set once the stream is finished (by a short last part, or at completion). */
  tag?: Buffer;
  /** The encryption of the latest accepted part, while it runs (a stream body). */
  pending?: Promise<void>;
  /** Why the stream cannot go on (a part failed midway through the cipher). */
  broken?: string;
}

function outOfOrder(message: string): MultipartStateError {
  return new MultipartStateError('ERR_PART_OUT_OF_ORDER', message);
}

function brokenError(state: S3ecUploadState, command: string): MultipartStateError {
  return new MultipartStateError(
    'ERR_UPLOAD_BROKEN',
    `${command}: the S3 Encryption Client upload of ${objectName(state.bucket, state.key)} cannot continue (${state.broken}); abort it and upload again`,
  );
}

/**
 * GCM's keystream applied to `plaintext` at byte `offset` of the stream (AES-CTR from counter block
 * 2 + offset/16, 96-bit IV): the same ciphertext the GCM cipher produced there.
 */
export function s3ecV3CiphertextAt(contentKey: Uint8Array, offset: number, plaintext: Uint8Array): Buffer {
  const counter = Buffer.alloc(16);
  Buffer.from(S3EC_V3_IV).copy(counter, 0, 0, 12);
  counter.writeUInt32BE(2 + Math.floor(offset / 16), 12);
  const ctr = createCipheriv('aes-256-ctr', contentKey, counter);
  const skip = offset % 16;
  if (skip > 0) ctr.update(Buffer.alloc(skip));
  return Buffer.concat([ctr.update(plaintext), ctr.final()]);
}

export async function createS3ecMultipartUpload(
  ctx: HandlerContext,
  input: CreateMultipartUploadCommandInput,
  options: SendOptions,
  request: S3CryptRequestOptions,
  write: ResolvedS3ecWrite,
): Promise<CreateMultipartUploadCommandOutput> {
  const bucket = requireString(input.Bucket, 'Bucket', 'CreateMultipartUpload');
  const key = requireString(input.Key, 'Key', 'CreateMultipartUpload');
  const materials = await s3ecWriteMaterials(ctx, 'CreateMultipartUpload', bucket, key, input.Metadata, request, write, options, true);
  const contentKey = materials.contentKey as Buffer;
  let registered = false;
  try {
    const output = await ctx.inner.send(new CreateMultipartUploadCommand({ ...input, Metadata: materials.metadata }), options);
    const uploadId = requireString(output.UploadId, 'UploadId', 'CreateMultipartUpload response');
    ctx.uploads.addS3ec(uploadId, {
      bucket,
      key,
      cipher: materials.encryptor.cipher,
      contentKey,
      ...(materials.instructionFile !== undefined ? { instructionFile: materials.instructionFile } : {}),
      instructionFileFields: instructionFileFields(input),
      partDefaults: Object.fromEntries(PART_DEFAULT_FIELDS.filter((f) => input[f] !== undefined).map((f) => [f, input[f]])),
      customerKeys: request.customerKeys ?? 'client-side',
      parts: [],
      plaintextLength: 0,
    });
    registered = true;
    return output;
  } finally {
    if (!registered) contentKey.fill(0);
  }
}

/**
 * UploadPart of an S3EC upload. Everything up to the cipher update runs before the first `await` for
 * byte bodies, so parts are encrypted in the order their UploadPart calls are made.
 */
export async function uploadS3ecPart(ctx: HandlerContext, state: S3ecUploadState, input: UploadPartCommandInput, options: SendOptions): Promise<UploadPartCommandOutput> {
  const partNumber = input.PartNumber ?? NaN;
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_DATA_PART_NUMBER) {
    throw new TypeError(`UploadPart: PartNumber must be an integer from 1 to ${MAX_DATA_PART_NUMBER} (a part may follow the last one with the S3 Encryption Client tag)`);
  }
  // A key presented for an upload under the client's keyring is refused (and audited) before anything else.
  if (ctx.customerKey) await checkUploadKey(ctx, state, true, 'UploadPart');
  const body = plaintextBody(input.Body, input.ContentLength, 'UploadPart');
  const checksums = PlaintextChecksums.of(input);
  if (state.broken) throw brokenError(state, 'UploadPart');
  const name = objectName(state.bucket, state.key);
  if (partNumber <= state.parts.length) return resendPart(ctx, state, input, partNumber, body, checksums, options);
  if (state.tag) {
    throw outOfOrder(`UploadPart: part ${partNumber} of ${name} follows part ${state.parts.length}, which was smaller than 5 MiB and therefore ended the upload's cipher stream`);
  }
  if (partNumber !== state.parts.length + 1) {
    throw outOfOrder(`UploadPart: part ${partNumber} of ${name} is out of order; an S3 Encryption Client upload is one cipher stream, so part ${state.parts.length + 1} comes next`);
  }
  const length = body.kind === 'bytes' ? body.bytes.length : body.length;
  if (state.plaintextLength + length > S3EC_MAX_PLAINTEXT) throw new TypeError(`UploadPart: an S3 Encryption Client object holds at most ${S3EC_MAX_PLAINTEXT} bytes (one GCM stream)`);
  // Only the last part may be smaller than S3's minimum: it finishes the stream, tag included.
  const part: S3ecPart = { offset: state.plaintextLength, length, last: length < MIN_PART_LENGTH, attempts: new Map() };
  state.parts.push(part);
  state.plaintextLength += length;
  const before = state.pending;
  let settle!: () => void;
  const mine = new Promise<void>((resolve) => (settle = resolve));
  state.pending = mine;
  // Lets the next part at the cipher: as soon as this one went through it (or failed to).
  const done = () => {
    if (part.digest === undefined) state.broken ??= `part ${partNumber} did not go through the cipher completely`;
    if (state.pending === mine) delete state.pending;
    settle();
  };
  const ContentLength = length + (part.last ? S3EC_GCM_TAG_LENGTH : 0);
  try {
    if (before) {
      await before;
      if (state.broken) throw brokenError(state, 'UploadPart');
    }
    if (body.kind === 'bytes') {
      const ciphertext = encryptPart(state, part, body.bytes);
      done();
      checksums.update(body.bytes);
      try {
        await checksums.verify();
      } catch (error) {
        state.broken = `part ${partNumber} did not match its checksum`;
        throw error;
      }
      return await sendPart(ctx, state, input, part, ciphertext, ContentLength, checksums, options);
    }
    const hash = createHash('sha256');
    const sealed = (async function* () {
      yield* s3ecEncryptStream(state.cipher, checksums.tap(body.source), length, part.last, lengthMismatch('UploadPart', length), (chunk) => hash.update(chunk));
      if (part.last) state.tag = state.cipher.getAuthTag();
      part.digest = hash.digest();
      done();
    })();
    return await sendPart(ctx, state, input, part, sealed, ContentLength, checksums, options);
  } finally {
    done();
  }
}

/** The part's bytes through the stream cipher (and its end and tag, for a last part). */
function encryptPart(state: S3ecUploadState, part: S3ecPart, plaintext: Uint8Array): Buffer {
  const ciphertext = state.cipher.update(plaintext);
  part.digest = createHash('sha256').update(plaintext).digest();
  if (!part.last) return ciphertext;
  const end = finishS3ecStream(state.cipher);
  state.tag = end.subarray(end.length - S3EC_GCM_TAG_LENGTH);
  return Buffer.concat([ciphertext, end]);
}

async function sendPart(
  ctx: HandlerContext,
  state: S3ecUploadState,
  input: UploadPartCommandInput,
  part: S3ecPart,
  body: Buffer | AsyncIterable<Buffer>,
  ContentLength: number,
  checksums: PlaintextChecksums,
  options: SendOptions,
): Promise<UploadPartCommandOutput> {
  // A part is checksummed in transit with the upload's algorithm (S3 requires it), else the caller's.
  const ChecksumAlgorithm = input.ChecksumAlgorithm ?? (state.partDefaults.ChecksumAlgorithm as UploadPartCommandInput['ChecksumAlgorithm']) ?? checksums.suppliedAlgorithm();
  const request = { ...withoutPlaintextChecksums(input), ...(ChecksumAlgorithm ? { ChecksumAlgorithm } : {}) } as UploadPartCommandInput;
  const send = (Body: Buffer | Readable, sendOptions: SendOptions) => ctx.inner.send(new UploadPartCommand({ ...request, Body, ContentLength }), sendOptions);
  const output = Buffer.isBuffer(body) ? await send(body, options) : await sendEncryptedStream(body, options, send);
  const eTag = requireString(output.ETag, 'ETag', 'UploadPart response');
  const plaintextChecksums = await checksums.verify();
  part.attempts.set(eTag, { plaintextChecksums, storedChecksums: checksumValuesOf(output) });
  return withPlaintextChecksums(output, plaintextChecksums);
}

/** A part number already encrypted: only its very bytes again, encrypted at its place in the stream. */
async function resendPart(
  ctx: HandlerContext,
  state: S3ecUploadState,
  input: UploadPartCommandInput,
  partNumber: number,
  body: ReturnType<typeof plaintextBody>,
  checksums: PlaintextChecksums,
  options: SendOptions,
): Promise<UploadPartCommandOutput> {
  const part = state.parts[partNumber - 1] as S3ecPart;
  const name = objectName(state.bucket, state.key);
  if (body.kind !== 'bytes' || part.digest === undefined) {
    throw outOfOrder(`UploadPart: part ${partNumber} of ${name} was already encrypted into the upload's cipher stream; it can be sent again only with a byte body (not a stream) once its first attempt went through`);
  }
  const digest = createHash('sha256').update(body.bytes).digest();
  if (body.bytes.length !== part.length || !timingSafeEqual(digest, part.digest)) {
    throw outOfOrder(`UploadPart: part ${partNumber} of ${name} was already encrypted with other bytes; a retry must send the same bytes (its place in the cipher stream is taken)`);
  }
  checksums.update(body.bytes);
  await checksums.verify();
  const ciphertext = s3ecV3CiphertextAt(state.contentKey, part.offset, body.bytes);
  const stored = part.last ? Buffer.concat([ciphertext, state.tag as Buffer]) : ciphertext;
  return sendPart(ctx, state, input, part, stored, stored.length, checksums, options);
}

/** The listed parts must be every part of the stream, 1 to n, each an attempt this client sent. */
function completedParts(state: S3ecUploadState, listed: readonly CompletedPart[]): CompletedPart[] {
  const name = objectName(state.bucket, state.key);
  const sorted = [...listed].sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
  if (sorted.length !== state.parts.length || sorted.some((part, index) => part.PartNumber !== index + 1)) {
    throw outOfOrder(
      `CompleteMultipartUpload: the S3 Encryption Client upload of ${name} is one cipher stream over parts 1 to ${state.parts.length}; Complete must list exactly those (it lists ${sorted.map((p) => p.PartNumber).join(', ') || 'none'})`,
    );
  }
  return sorted.map((listedPart, index) => {
    const attempt = state.parts[index]?.attempts.get(String(listedPart.ETag));
    if (!attempt) {
      throw new MultipartStateError('ERR_UNKNOWN_PART', `part ${listedPart.PartNumber} with ETag ${quoteUntrusted(String(listedPart.ETag))} was not uploaded through this EncryptingS3Client`);
    }
    const checks = checksumValuesOf(listedPart);
    if (Object.entries(checks).some(([field, value]) => attempt.plaintextChecksums[field as keyof ChecksumValues] !== value)) throw invalidPart(listedPart.PartNumber);
    return { PartNumber: listedPart.PartNumber, ETag: listedPart.ETag, ...attempt.storedChecksums };
  });
}

export async function completeS3ecMultipartUpload(
  ctx: HandlerContext,
  state: S3ecUploadState,
  uploadId: string,
  input: CompleteMultipartUploadCommandInput,
  options: SendOptions,
): Promise<CompleteMultipartUploadCommandOutput> {
  const { bucket, key } = state;
  if (ctx.customerKey) await checkUploadKey(ctx, state, false, 'CompleteMultipartUpload');
  const wholeObject = Object.keys(checksumValuesOf(input));
  if (wholeObject.length > 0) {
    throw new TypeError(`CompleteMultipartUpload: a whole-object ${wholeObject.join(', ')} cannot be verified through EncryptingS3Client; give checksums with each UploadPart`);
  }
  if (state.instructionFile !== undefined) refuseConditionalWithInstructionFile(input, 'CompleteMultipartUpload');
  let instructionFileWritten = false;
  try {
    await state.pending;
    if (state.broken) throw brokenError(state, 'CompleteMultipartUpload');
    const parts = completedParts(state, input.MultipartUpload?.Parts ?? []);
    if (!state.tag) {
      // The last part was full-size (or there was none): the tag goes in a part of its own.
      const Body = finishS3ecStream(state.cipher);
      state.tag = Body.subarray(Body.length - S3EC_GCM_TAG_LENGTH);
      const PartNumber = state.parts.length + 1;
      const output = await ctx.inner.send(
        new UploadPartCommand({ ...state.partDefaults, Bucket: bucket, Key: key, UploadId: uploadId, PartNumber, Body, ContentLength: Body.length }),
        options,
      );
      parts.push({ PartNumber, ETag: output.ETag, ...checksumValuesOf(output) });
    }
    if (state.instructionFile !== undefined) {
      instructionFileWritten = true;
      await putInstructionFile(ctx, bucket, key, state.instructionFile, state.instructionFileFields, options);
    }
    const request = withoutPlaintextChecksums({ ...input, MultipartUpload: { Parts: parts } });
    delete (request as Record<string, unknown>).ChecksumType; // a full-object checksum would describe the plaintext
    delete (request as Record<string, unknown>).MpuObjectSize;
    const output = withPlaintextChecksums(await ctx.inner.send(new CompleteMultipartUploadCommand(request), options), {});
    return withObjectInfo(output, S3EC_V3_WRITTEN);
  } catch (error) {
    // Fail closed: an upload that could not be finished must not linger, nor its instruction file.
    await ctx.inner.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, ExpectedBucketOwner: input.ExpectedBucketOwner })).catch(() => undefined);
    if (instructionFileWritten) await deleteInstructionFile(ctx, bucket, key, state.instructionFileFields);
    throw error;
  } finally {
    ctx.uploads.end(uploadId);
  }
}
