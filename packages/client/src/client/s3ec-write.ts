// Writing objects in the AWS S3 Encryption Client's format V3 (docs/INTEROP.md, "Writing S3EC V3"):
// the caller's keyring wraps one data key in a way S3EC names (KMS with context, its AES/GCM or
// RSA-OAEP-SHA1 wrap), the content is one AES-256-GCM stream with its tag last, and the metadata is
// what the official v4 writers store, on the object or in `<key>.instruction`. Fail closed: nothing
// is sent before the key is wrapped and the metadata built.
import { DeleteObjectCommand, PutObjectCommand, type PutObjectCommandInput, type PutObjectCommandOutput } from '@aws-sdk/client-s3';
import type { CipherGCM } from 'node:crypto';
import { EnvelopeError, S3ecError } from '../errors.js';
import { USER_METADATA_LIMIT } from '../format/constants.js';
import { userMetadataSize } from '../format/envelope.js';
import { deriveS3ecV3ContentKey } from '../format/s3ec/key-derivation.js';
import { S3EC_GCM_TAG_LENGTH, S3EC_INSTRUCTION_FILE_SUFFIX, S3EC_METADATA_NAMES, INSTRUCTION_FILE_MARKER } from '../format/s3ec/metadata.js';
import { s3ecV3Encryptor, s3ecV3Metadata, s3ecV3WriteContext, type S3ecV3Encryptor } from '../format/s3ec/v3-writer.js';
import type { EncryptionContext } from '../keyrings/keyring.js';
import { S3EC_PROVIDER_IDS } from '../keyrings/s3ec-ids.js';
import { quoteUntrusted } from '../untrusted-text.js';
import { lengthMismatch, plaintextBody } from './bodies.js';
import { objectName, requireString, signalOf, withoutPlaintextChecksums, type HandlerContext, type SendOptions } from './context.js';
import { wrapDataKey } from './materials.js';
import { withObjectInfo } from './object-info.js';
import { PlaintextChecksums, withPlaintextChecksums } from './plaintext-checksums.js';
import type { S3CryptRequestOptions } from './request-options.js';
import { resolveS3ecWrite, type ResolvedS3ecWrite } from './s3ec-options.js';
import { sendEncryptedStream } from './streaming.js';

/** The wrappings a V3 object can name (`x-amz-w` 12, 02, 22). */
const WRITABLE_PROVIDERS: ReadonlySet<string> = new Set([S3EC_PROVIDER_IDS.awsKms, S3EC_PROVIDER_IDS.aesGcm, S3EC_PROVIDER_IDS.rsaOaepSha1]);

/** GCM's 32-bit block counter bounds one stream: 2^32 − 2 blocks of plaintext. */
export const S3EC_MAX_PLAINTEXT = (2 ** 32 - 2) * 16;

/** The info S3CryptObjectInfo gives for an S3EC V3 object written. */
export const S3EC_V3_WRITTEN = { encrypted: true, format: 's3ec', formatVersion: 3 } as const;

/** Request fields the instruction file repeats from its object's write (who pays, who owns, SSE). */
const INSTRUCTION_FILE_FIELDS = ['ExpectedBucketOwner', 'RequestPayer', 'ServerSideEncryption', 'SSEKMSKeyId', 'BucketKeyEnabled'] as const;
type InstructionFileFields = Partial<Pick<PutObjectCommandInput, (typeof INSTRUCTION_FILE_FIELDS)[number]>>;

/**
 * Whether this PutObject / CreateMultipartUpload writes S3EC V3: the command's `s3ecWrite`, else the
 * client's `s3ec.write`.
 */
export function s3ecWriteFor(ctx: HandlerContext, request: S3CryptRequestOptions): ResolvedS3ecWrite | undefined {
  if (request.s3ecWrite !== undefined) return resolveS3ecWrite(request.s3ecWrite, 'withS3Crypt: s3ecWrite');
  return ctx.s3ec?.write;
}

/** A new object's content encryption, and everything to store besides its body. */
export interface S3ecWriteMaterials {
  readonly encryptor: S3ecV3Encryptor;
  /** The caller's metadata and the S3EC content metadata. */
  readonly metadata: Record<string, string>;
  /** The body of `<key>.instruction`, in instruction-file mode. */
  readonly instructionFile?: string;
  /** The content key (multipart only, to encrypt a retried part again); the caller zeroes it. */
  readonly contentKey?: Buffer;
}

function checkUserMetadata(metadata: Readonly<Record<string, string>> | undefined, command: string): void {
  for (const name of Object.keys(metadata ?? {})) {
    const lower = name.toLowerCase();
    if (S3EC_METADATA_NAMES.has(lower) || lower.startsWith('s3crypt')) {
      throw new TypeError(`${command}: metadata key "${name}" is reserved (S3 Encryption Client content metadata, or s3crypt's)`);
    }
  }
}

function checkContext(context: EncryptionContext, command: string): void {
  // S3 re-encodes non-ASCII metadata text; the official clients refuse it too.
  for (const [name, value] of Object.entries(context)) {
    if (!/^[\x20-\x7e]*$/.test(name + value)) throw new TypeError(`${command}: an S3 Encryption Client encryption context must be US-ASCII`);
  }
}

/** Exactly one wrapped key, of a wrapping V3 can name; otherwise nothing may be written. */
function checkWrapping(encryptedDataKeys: readonly { providerId: string }[], name: string): void {
  const providers = encryptedDataKeys.map((edk) => edk.providerId);
  if (providers.length === 1 && WRITABLE_PROVIDERS.has(providers[0] as string)) return;
  throw new S3ecError(
    'ERR_S3EC_WRAPPING_UNSUPPORTED',
    `${name} cannot be written in the S3 Encryption Client format: its keyring wrapped the data key as ${providers.map((p) => quoteUntrusted(p)).join(', ')}; ` +
      'S3EC V3 names exactly one key wrapped by AWS KMS (AwsKmsKeyring), S3ecAesKeyring or S3ecRsaKeyring',
  );
}

/**
 * Generates and wraps a data key under the S3EC context (the caller's plus `aws:x-amz-cek-alg: 115`),
 * checks the wrapping, starts the content cipher and builds the metadata. The data key is zeroed
 * before this returns.
 */
export async function s3ecWriteMaterials(
  ctx: HandlerContext,
  command: string,
  bucket: string,
  key: string,
  userMetadata: Record<string, string> | undefined,
  request: S3CryptRequestOptions,
  write: ResolvedS3ecWrite,
  options: SendOptions,
  keepContentKey = false,
): Promise<S3ecWriteMaterials> {
  const name = objectName(bucket, key);
  if (ctx.customerKey) {
    throw new S3ecError('ERR_S3EC_WRAPPING_UNSUPPORTED', `${name} cannot be written in the S3 Encryption Client format under a client-side customer key (SSECustomerKey): S3EC has no such wrapping`);
  }
  checkUserMetadata(userMetadata, command);
  let context: EncryptionContext;
  try {
    context = s3ecV3WriteContext(request.encryptionContext ?? {});
  } catch (error) {
    throw new TypeError(`${command}: ${(error as Error).message}`, { cause: error });
  }
  checkContext(context, command);
  // S3EC's encryption context does not name the object: the audit events are told what it is.
  const audit = ctx.audit?.about({ bucket, key, format: S3EC_V3_WRITTEN.format, formatVersion: S3EC_V3_WRITTEN.formatVersion });
  const { dataKey, encryptedDataKeys } = await wrapDataKey(ctx.keyring, context, undefined, signalOf(options), audit);
  let contentKey: Buffer | undefined;
  try {
    checkWrapping(encryptedDataKeys, name);
    const encryptedDataKey = encryptedDataKeys[0] as (typeof encryptedDataKeys)[number];
    const encryptor = s3ecV3Encryptor(dataKey);
    if (keepContentKey) contentKey = deriveS3ecV3ContentKey(dataKey, encryptor.messageId);
    let stored;
    try {
      stored = s3ecV3Metadata({ messageId: encryptor.messageId, keyCommitment: encryptor.keyCommitment, encryptedDataKey, context, instructionFile: write.instructionFile });
    } catch (error) {
      throw new TypeError(`${command}: ${(error as Error).message}`, { cause: error });
    }
    const metadata = { ...userMetadata, ...stored.metadata };
    const size = userMetadataSize(metadata);
    if (size > USER_METADATA_LIMIT) {
      throw new EnvelopeError(
        'ERR_ENVELOPE_TOO_LARGE',
        `user metadata with the S3 Encryption Client metadata is ${size} bytes; S3 allows ${USER_METADATA_LIMIT} (use less metadata or a smaller context, or s3ecWrite { instructionFile: true })`,
      );
    }
    return { encryptor, metadata, ...(stored.instructionFile !== undefined ? { instructionFile: stored.instructionFile } : {}), ...(contentKey ? { contentKey } : {}) };
  } catch (error) {
    contentKey?.fill(0);
    throw error;
  } finally {
    dataKey.fill(0);
  }
}

/** The fields of `input` an instruction file is written with. */
export function instructionFileFields(input: InstructionFileFields): InstructionFileFields {
  return Object.fromEntries(INSTRUCTION_FILE_FIELDS.filter((field) => input[field] !== undefined).map((field) => [field, input[field]]));
}

/** Conditional writes cannot cover two objects: refused in instruction-file mode. */
export function refuseConditionalWithInstructionFile(input: { IfMatch?: unknown; IfNoneMatch?: unknown }, command: string): void {
  if (input.IfMatch !== undefined || input.IfNoneMatch !== undefined) {
    throw new TypeError(`${command}: IfMatch / IfNoneMatch cannot be honoured when writing an S3 Encryption Client instruction file (two objects are written, not atomically)`);
  }
}

/** Stores `<key>.instruction` (before the object it describes, which readers then find complete). */
export async function putInstructionFile(ctx: HandlerContext, bucket: string, key: string, body: string, fields: InstructionFileFields, options: SendOptions): Promise<void> {
  const Body = Buffer.from(body, 'utf8');
  await ctx.inner.send(
    new PutObjectCommand({ ...fields, Bucket: bucket, Key: `${key}${S3EC_INSTRUCTION_FILE_SUFFIX}`, Body, ContentLength: Body.length, Metadata: { [INSTRUCTION_FILE_MARKER]: '' } }),
    options,
  );
}

/** Best effort: removes an instruction file whose object could not be written. */
export async function deleteInstructionFile(ctx: HandlerContext, bucket: string, key: string, fields: InstructionFileFields): Promise<void> {
  const { ExpectedBucketOwner, RequestPayer } = fields;
  await ctx.inner.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${key}${S3EC_INSTRUCTION_FILE_SUFFIX}`, ExpectedBucketOwner, RequestPayer })).catch(() => undefined);
}

/** `cipher.final()` and the tag: the end of an S3EC body. */
export function finishS3ecStream(cipher: CipherGCM): Buffer {
  const rest = cipher.final();
  return Buffer.concat([rest, cipher.getAuthTag()]);
}

/**
 * Encrypts exactly `length` bytes of `source` through `cipher` in order; `last` appends the tag.
 * Fails with `mismatch` when the source is longer or shorter.
 */
export async function* s3ecEncryptStream(
  cipher: CipherGCM,
  source: AsyncIterable<Uint8Array>,
  length: number,
  last: boolean,
  mismatch: (actual: number) => Error,
  onChunk?: (chunk: Uint8Array) => void,
): AsyncGenerator<Buffer> {
  let seen = 0;
  for await (const chunk of source) {
    seen += chunk.length;
    if (seen > length) throw mismatch(seen);
    onChunk?.(chunk);
    const out = cipher.update(chunk);
    if (out.length > 0) yield out;
  }
  if (seen !== length) throw mismatch(seen);
  if (last) yield finishS3ecStream(cipher);
}

/** PutObject in S3EC V3: one GCM stream over the body, its 16-byte tag last. */
export async function putS3ecObject(
  ctx: HandlerContext,
  input: PutObjectCommandInput,
  options: SendOptions,
  request: S3CryptRequestOptions,
  write: ResolvedS3ecWrite,
): Promise<PutObjectCommandOutput> {
  const bucket = requireString(input.Bucket, 'Bucket', 'PutObject');
  const key = requireString(input.Key, 'Key', 'PutObject');
  if (write.instructionFile) refuseConditionalWithInstructionFile(input, 'PutObject');
  const body = plaintextBody(input.Body, input.ContentLength, 'PutObject');
  const length = body.kind === 'bytes' ? body.bytes.length : body.length;
  if (length > S3EC_MAX_PLAINTEXT) throw new TypeError(`PutObject: an S3 Encryption Client object holds at most ${S3EC_MAX_PLAINTEXT} bytes (one GCM stream)`);
  const checksums = PlaintextChecksums.of(input);
  if (body.kind === 'bytes') {
    checksums.update(body.bytes);
    await checksums.verify();
  }
  const materials = await s3ecWriteMaterials(ctx, 'PutObject', bucket, key, input.Metadata, request, write, options);
  const { cipher } = materials.encryptor;
  const ChecksumAlgorithm = input.ChecksumAlgorithm ?? checksums.suppliedAlgorithm();
  const putRequest = { ...withoutPlaintextChecksums(input), Metadata: materials.metadata, ...(ChecksumAlgorithm ? { ChecksumAlgorithm } : {}) };
  const ContentLength = length + S3EC_GCM_TAG_LENGTH;
  const fields = instructionFileFields(input);
  if (materials.instructionFile !== undefined) await putInstructionFile(ctx, bucket, key, materials.instructionFile, fields, options);
  let output: PutObjectCommandOutput;
  try {
    if (body.kind === 'bytes') {
      const Body = Buffer.concat([cipher.update(body.bytes), finishS3ecStream(cipher)]);
      output = await ctx.inner.send(new PutObjectCommand({ ...putRequest, Body, ContentLength }), options);
    } else {
      const sealed = s3ecEncryptStream(cipher, checksums.tap(body.source), length, true, lengthMismatch('PutObject', length));
      output = await sendEncryptedStream(sealed, options, (Body, sendOptions) => ctx.inner.send(new PutObjectCommand({ ...putRequest, Body, ContentLength }), sendOptions));
    }
  } catch (error) {
    if (materials.instructionFile !== undefined) await deleteInstructionFile(ctx, bucket, key, fields);
    throw error;
  }
  return withObjectInfo(withPlaintextChecksums(output, await checksums.verify(), 'FULL_OBJECT'), S3EC_V3_WRITTEN);
}
