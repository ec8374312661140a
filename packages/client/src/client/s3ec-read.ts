// Reading objects written by the AWS S3 Encryption Client (docs/INTEROP.md). Its content is one
// AES-GCM stream (V2, V3) or AES-CBC (V1, legacy) over the whole object with a single tag at the end,
// so, unlike s3crypt's segments, nothing can be authenticated before the last byte. This reader
// therefore never releases plaintext before the tag verified, unless the caller chose otherwise:
// - objects up to `singlePassLimit` are fetched whole, checked, then released;
// - larger ones are read twice: the first read checks the tag and takes a SHA-256 of every 1 MiB of
//   ciphertext (keeping nothing else), the second decrypts (AES-CTR, GCM's own keystream) and
//   releases each chunk only once its digest matches the first read's: a store that serves other
//   bytes the second time is caught before they are released. Memory stays bounded (32 bytes a MiB);
// - with `delayedAuthentication`, one streaming read whose tag is checked at the end;
// - ranges only with `unauthenticatedRanges` (the official clients' behaviour), never authenticated.
import { createDecipheriv, createHash, timingSafeEqual, type Decipher } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, type GetObjectCommandInput, type GetObjectCommandOutput } from '@aws-sdk/client-s3';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import type { ReadAudit } from '../audit/scope.js';
import { DecryptionError, KeyPolicyError, KeyringError, S3ecError } from '../errors.js';
import { s3ecContentCipher, type S3ecContentCipher } from '../format/s3ec/content-cipher.js';
import { s3ecContextMatches, s3ecDecryptionContext, s3ecEncryptedDataKey } from '../format/s3ec/data-key.js';
import { parseS3ecEnvelope, type S3ecEnvelope } from '../format/s3ec/envelope.js';
import { parseS3ecMetadata, S3EC_INSTRUCTION_FILE_SUFFIX, S3EC_METADATA_NAMES } from '../format/s3ec/metadata.js';
import type { EncryptedDataKey } from '../keyrings/keyring.js';
import { S3EC_PROVIDER_IDS } from '../keyrings/s3ec-ids.js';
import { objectName, signalOf, type HandlerContext, type SendOptions } from './context.js';
import type { S3CryptRequestOptions } from './request-options.js';
import { unwrapObjectKey } from './materials.js';
import { getStoredRange, objectSelector } from './read-object.js';
import type { ResolvedS3ecOptions } from './s3ec-options.js';
import { exactly, readExactly } from './store-response.js';

const GCM_TAG = 16;
const AES_BLOCK = 16;
/** Ciphertext per digest in a two-pass read. */
const CHUNK = 1024 * 1024;
/** The largest instruction file read (they hold a wrapped key and a few short JSON fields). */
const MAX_INSTRUCTION_FILE = 64 * 1024;
/** GCM's 32-bit block counter: 2^32 − 2 blocks of plaintext at most. */
const MAX_GCM_CIPHERTEXT = (2 ** 32 - 2) * AES_BLOCK;

/** An S3EC object opened for reading: its data key unwrapped and committed, nothing decrypted yet. */
export interface OpenedS3ecObject {
  readonly format: 's3ec';
  /** The first (tail) response: status, headers and metadata. Its body has been read. */
  readonly response: GetObjectCommandOutput;
  readonly envelope: S3ecEnvelope;
  readonly cipher: S3ecContentCipher;
  /** Stored bytes. */
  readonly total: number;
  readonly plaintextLength: number;
  /** The last stored bytes, from `tailOffset` to the end. */
  readonly tail: Buffer;
  readonly tailOffset: number;
  /** Request fields for follow-up GETs of the same object version. */
  readonly sameVersion: GetObjectCommandInput;
}

/** One of the S3EC content metadata names, which a reader's output does not show (as s3crypt's envelope). */
const isS3ecName = (name: string): boolean => S3EC_METADATA_NAMES.has(name.toLowerCase());

/** `response` without the S3EC content metadata in its user metadata. */
export function withoutS3ecMetadata<T extends { Metadata?: Record<string, string> }>(response: T): T {
  if (!response.Metadata) return response;
  return { ...response, Metadata: Object.fromEntries(Object.entries(response.Metadata).filter(([name]) => !isS3ecName(name))) };
}

/** Only the S3EC content metadata of `metadata` (what a copy must keep). */
export function s3ecMetadataOf(metadata: Readonly<Record<string, string>> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata ?? {}).filter(([name]) => isS3ecName(name)));
}

/** Whether the S3EC object whose metadata is `metadata` keeps (some of) its content metadata in `<key>.instruction`. */
export function usesInstructionFile(metadata: Readonly<Record<string, string>> | undefined): boolean {
  const recognised = parseS3ecMetadata(metadata);
  // Nothing on the object at all: everything is in the instruction file (V1/V2).
  return recognised === undefined || (recognised.kind === 'object' && recognised.instructionFile);
}

/** True when `metadata` is an S3 Encryption Client object's (not its instruction file). */
export function isS3ecObject(metadata: Readonly<Record<string, string>> | undefined): boolean {
  return parseS3ecMetadata(metadata)?.kind === 'object';
}

/** The request fields that address `input`'s instruction file `<key>.instruction`. */
function instructionFileOf(input: GetObjectCommandInput): GetObjectCommandInput {
  const { Bucket, Key, ExpectedBucketOwner, RequestPayer } = input;
  return { Bucket, Key: `${String(Key)}${S3EC_INSTRUCTION_FILE_SUFFIX}`, ExpectedBucketOwner, RequestPayer };
}

/**
 * Whether `<key>.instruction` exists (one HEAD). Its `x-amz-crypto-instr-file` marker is not required:
 * it has an empty value, which some stores drop. Its body is parsed strictly when it is read.
 */
async function hasInstructionFile(ctx: HandlerContext, input: GetObjectCommandInput, options: SendOptions): Promise<boolean> {
  try {
    const head = await ctx.inner.send(new HeadObjectCommand(instructionFileOf(input)), options);
    return parseS3ecMetadata(head.Metadata)?.kind !== 'object';
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || status === 403) return false;
    throw error;
  }
}

/**
 * Whether an object without an s3crypt envelope, whose metadata is `metadata`, is an S3 Encryption
 * Client object. V1/V2 objects may keep all their content metadata in an instruction file, leaving
 * nothing on the object: a client that reads that format looks for one (a HEAD) before it takes an
 * object for plaintext, as the official clients do.
 */
export async function storedAsS3ec(ctx: HandlerContext, input: GetObjectCommandInput, metadata: Readonly<Record<string, string>> | undefined, options: SendOptions): Promise<boolean> {
  return isS3ecObject(metadata) || (ctx.s3ec !== undefined && (await hasInstructionFile(ctx, input, options)));
}

async function instructionFile(ctx: HandlerContext, input: GetObjectCommandInput, options: SendOptions, name: string): Promise<string> {
  const response = await ctx.inner.send(new GetObjectCommand(instructionFileOf(input)), options);
  const length = response.ContentLength;
  if (length === undefined || length > MAX_INSTRUCTION_FILE) {
    (response.Body as Readable | undefined)?.destroy();
    throw new DecryptionError('ERR_OBJECT_MALFORMED', `the instruction file of ${name} is larger than ${MAX_INSTRUCTION_FILE} bytes or of unknown length`);
  }
  return (await readExactly(response, length, `the instruction file of ${name}`)).toString('utf8');
}

function checkCommitmentPolicy(envelope: S3ecEnvelope, s3ec: ResolvedS3ecOptions, name: string): void {
  if (envelope.formatVersion === 3) return;
  if (s3ec.commitmentPolicy === 'require-encrypt-require-decrypt') {
    throw new KeyPolicyError(
      'ERR_FORMAT_VERSION_NOT_ALLOWED',
      `${name} is an S3 Encryption Client V${envelope.formatVersion} object without key commitment; the commitment policy require-encrypt-require-decrypt reads V3 only (allow it with s3ec.commitmentPolicy 'require-encrypt-allow-decrypt')`,
    );
  }
  if (envelope.contentAlgorithm !== 'AES/GCM/NoPadding' && !s3ec.legacyUnauthenticatedModes) {
    throw new KeyPolicyError('ERR_FORMAT_VERSION_NOT_ALLOWED', `${name} is encrypted with ${envelope.contentAlgorithm}, which does not authenticate its content; reading it needs s3ec.legacyUnauthenticatedModes`);
  }
}

/**
 * The envelope's wrapped key as s3crypt EDKs. A `kms+context` key does not name its KMS key (KMS finds
 * it in the ciphertext), so it is offered under each AWS KMS key ARN the client's keyring names: the
 * key policy sees a named key, and KMS itself refuses a ciphertext of any other key (Decrypt names
 * the key, and the keyring checks the key KMS used).
 */
function wrappedKeys(ctx: HandlerContext, envelope: S3ecEnvelope, name: string): EncryptedDataKey[] {
  const edk = s3ecEncryptedDataKey(envelope);
  if (edk.providerId !== S3EC_PROVIDER_IDS.awsKms || edk.keyId !== '') return [edk];
  const arns = (ctx.keyring.kekMatchers?.() ?? []).filter((m) => m.providerId === S3EC_PROVIDER_IDS.awsKms && (m.match ?? 'exact') === 'exact' && m.keyId.startsWith('arn:'));
  if (arns.length === 0) {
    throw new KeyringError('ERR_NO_MATCHING_KEY', `${name} is wrapped by AWS KMS without naming its key (S3 Encryption Client kms+context); configure an AwsKmsKeyring with the key ARN`);
  }
  return arns.map((m) => ({ ...edk, keyId: m.keyId }));
}

/** The plaintext length of a CBC object: its last block decrypted (the one before is its IV) for the padding. */
function cbcPlaintextLength(cipher: S3ecContentCipher, tail: Buffer, total: number, name: string): number {
  if (total === 0 || total % AES_BLOCK !== 0) throw new DecryptionError('ERR_OBJECT_MALFORMED', `${name} is not a whole number of AES blocks`);
  const last = tail.subarray(tail.length - AES_BLOCK);
  const iv = total === AES_BLOCK ? cipher.iv : tail.subarray(tail.length - 2 * AES_BLOCK, tail.length - AES_BLOCK);
  const decipher = createDecipheriv('aes-256-cbc', cipher.key, iv).setAutoPadding(false);
  const block = Buffer.concat([decipher.update(last), decipher.final()]);
  const pad = block[AES_BLOCK - 1] as number;
  block.fill(0);
  if (pad < 1 || pad > AES_BLOCK) throw new DecryptionError('ERR_DECRYPTION_FAILED', `${name} failed to decrypt (bad padding)`);
  return total - pad;
}

/**
 * Opens the S3EC object behind `response` (the first, tail response): metadata (and instruction file)
 * parsed strictly, commitment policy and key policy applied, data key unwrapped and its commitment
 * checked (V3) before anything else. The caller zeroes `cipher.key`.
 */
export async function openS3ecObject(
  ctx: HandlerContext,
  input: GetObjectCommandInput,
  response: GetObjectCommandOutput,
  first: { readonly bytes: Buffer; readonly total: number },
  options: SendOptions,
  request: S3CryptRequestOptions,
  audit: ReadAudit | undefined,
): Promise<OpenedS3ecObject> {
  const bucket = String(input.Bucket);
  const key = String(input.Key);
  const name = objectName(bucket, key);
  const s3ec = ctx.s3ec;
  if (!s3ec) {
    throw new S3ecError('ERR_S3EC_DISABLED', `${name} was written by the AWS S3 Encryption Client; reading it needs the client's s3ec option`);
  }
  const envelope = parseS3ecEnvelope(response.Metadata ?? {}, usesInstructionFile(response.Metadata) ? await instructionFile(ctx, input, options, name) : undefined);
  audit?.envelope(envelope.formatVersion, 's3ec');
  checkCommitmentPolicy(envelope, s3ec, name);
  const total = first.total;
  const gcm = envelope.contentAlgorithm !== 'AES/CBC/PKCS5Padding';
  if (gcm && (total < GCM_TAG || total - GCM_TAG > MAX_GCM_CIPHERTEXT)) throw new DecryptionError('ERR_OBJECT_TRUNCATED', `${name} is shorter than its authentication tag or longer than GCM allows`);
  if (!s3ecContextMatches(envelope, request.encryptionContext ?? {})) {
    throw new DecryptionError('ERR_HEADER_AUTH_FAILED', `${name} was not written with the encryption context the caller gave (the stored context, less its reserved entries, must equal it)`);
  }
  const { dataKey } = await unwrapObjectKey(
    ctx.keyring,
    ctx.policy,
    { encryptedDataKeys: wrappedKeys(ctx, envelope, name), signed: false },
    // V3 commits to its data key: a wrong key fails here, before any content is touched.
    { commits: (candidate) => s3ecContentCipher(envelope, candidate).key.fill(0) },
    s3ecDecryptionContext(envelope),
    name,
    signalOf(options),
    audit,
  );
  let cipher: S3ecContentCipher;
  try {
    cipher = s3ecContentCipher(envelope, dataKey);
  } finally {
    dataKey.fill(0);
  }
  try {
    const plaintextLength = gcm ? total - GCM_TAG : cbcPlaintextLength(cipher, first.bytes, total, name);
    const sameVersion = { ...objectSelector(input), ...(input.VersionId ? {} : { IfMatch: response.ETag }) };
    return { format: 's3ec', response, envelope, cipher, total, plaintextLength, tail: first.bytes, tailOffset: total - first.bytes.length, sameVersion };
  } catch (error) {
    cipher.key.fill(0);
    throw error;
  }
}

/** Stored bytes [start, end) of the same version, exactly those. */
async function storedRange(ctx: HandlerContext, opened: OpenedS3ecObject, start: number, end: number, options: SendOptions): Promise<Readable> {
  const what = objectName(String(opened.sameVersion.Bucket), String(opened.sameVersion.Key));
  if (start >= end) return Readable.from([]);
  const response = await getStoredRange(ctx, opened.sameVersion, start, end, opened.total, options);
  const limited = exactly(end - start, what);
  pipeline(response.Body as Readable, limited, () => undefined);
  return limited;
}

/** Stored bytes [start, end), from the tail already fetched where it covers them. */
async function stored(ctx: HandlerContext, opened: OpenedS3ecObject, start: number, end: number, options: SendOptions): Promise<Readable> {
  if (start >= opened.tailOffset) return Readable.from([opened.tail.subarray(start - opened.tailOffset, end - opened.tailOffset)]);
  const head = await storedRange(ctx, opened, start, Math.min(end, opened.tailOffset), options);
  if (end <= opened.tailOffset) return head;
  const rest = opened.tail.subarray(0, end - opened.tailOffset);
  return Readable.from(
    (async function* () {
      for await (const chunk of head as AsyncIterable<Buffer>) yield chunk;
      yield rest;
    })(),
  );
}

function gcmDecipher(cipher: S3ecContentCipher, tag: Buffer): Decipher {
  const decipher = createDecipheriv('aes-256-gcm', cipher.key, cipher.iv, { authTagLength: GCM_TAG });
  if (cipher.aad) decipher.setAAD(cipher.aad);
  decipher.setAuthTag(tag);
  return decipher;
}

// No cause: a decryption failure says only that it failed (no oracle in the details).
function tampered(name: string, _cause?: unknown): DecryptionError {
  return new DecryptionError('ERR_DECRYPTION_FAILED', `${name} failed authentication: its content or tag was altered`);
}

/** GCM's keystream from plaintext block `block` on, as AES-CTR (for 96-bit IVs: counter 2 is the first block). */
function gcmKeystream(cipher: S3ecContentCipher, block: number): Decipher {
  const counter = Buffer.alloc(16);
  cipher.iv.copy(counter, 0, 0, 12);
  counter.writeUInt32BE(2 + block, 12);
  return createDecipheriv('aes-256-ctr', cipher.key, counter);
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Whole small objects: fetched, checked, then released. */
async function inMemory(ctx: HandlerContext, opened: OpenedS3ecObject, options: SendOptions, name: string): Promise<Readable> {
  const ciphertext = await collect(await stored(ctx, opened, 0, opened.total, options));
  if (opened.cipher.mode === 'cbc') {
    const decipher = createDecipheriv('aes-256-cbc', opened.cipher.key, opened.cipher.iv);
    try {
      return Readable.from([Buffer.concat([decipher.update(ciphertext), decipher.final()])]);
    } catch {
      throw new DecryptionError('ERR_DECRYPTION_FAILED', `${name} failed to decrypt`);
    }
  }
  const decipher = gcmDecipher(opened.cipher, ciphertext.subarray(ciphertext.length - GCM_TAG));
  const plaintext = decipher.update(ciphertext.subarray(0, ciphertext.length - GCM_TAG));
  try {
    decipher.final();
  } catch (error) {
    plaintext.fill(0);
    throw tampered(name, error);
  }
  return Readable.from(plaintext.length ? [plaintext] : []);
}

/** Cuts a stream into chunks of exactly `size` bytes (the last one shorter). */
async function* chunked(source: Readable, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let length = 0;
  for await (const piece of source as AsyncIterable<Buffer>) {
    let rest = piece;
    while (length + rest.length >= size) {
      const take = size - length;
      pending.push(rest.subarray(0, take));
      yield Buffer.concat(pending);
      rest = rest.subarray(take);
      pending = [];
      length = 0;
    }
    if (rest.length) {
      pending.push(rest);
      length += rest.length;
    }
  }
  if (length) yield Buffer.concat(pending);
}

/** First pass: the tag checked over the whole ciphertext (plaintext discarded), and a digest of every chunk. */
async function checkTag(ctx: HandlerContext, opened: OpenedS3ecObject, options: SendOptions, name: string): Promise<Buffer[]> {
  const tag = opened.tail.subarray(opened.tail.length - GCM_TAG);
  const decipher = gcmDecipher(opened.cipher, tag);
  const digests: Buffer[] = [];
  for await (const chunk of chunked(await stored(ctx, opened, 0, opened.total - GCM_TAG, options), CHUNK)) {
    digests.push(createHash('sha256').update(chunk).digest());
    decipher.update(chunk).fill(0);
  }
  try {
    decipher.final();
  } catch (error) {
    throw tampered(name, error);
  }
  return digests;
}

/** Second pass: each chunk released only once it is the very chunk the first pass authenticated. */
function releaseChecked(source: Readable, opened: OpenedS3ecObject, digests: Buffer[], name: string): Readable {
  const keystream = gcmKeystream(opened.cipher, 0);
  const chunks = chunked(source, CHUNK);
  let index = 0;
  return Readable.from(
    (async function* () {
      for await (const chunk of chunks) {
        const expected = digests[index++];
        const actual = createHash('sha256').update(chunk).digest();
        if (!expected || !timingSafeEqual(expected, actual)) {
          throw new DecryptionError('ERR_DECRYPTION_FAILED', `${name} changed between the read that authenticated it and the read that decrypts it`);
        }
        yield keystream.update(chunk);
      }
      if (index !== digests.length) throw new DecryptionError('ERR_OBJECT_TRUNCATED', `${name} was cut short on its second read`);
    })(),
  );
}

/** One pass, tag checked at the end (delayed authentication, or CBC which has none). */
function streaming(source: Readable, opened: OpenedS3ecObject, name: string): Readable {
  const { cipher } = opened;
  const decipher =
    cipher.mode === 'cbc' ? createDecipheriv('aes-256-cbc', cipher.key, cipher.iv) : gcmDecipher(cipher, opened.tail.subarray(opened.tail.length - GCM_TAG));
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      callback(null, decipher.update(chunk));
    },
    flush(callback: TransformCallback) {
      try {
        callback(null, decipher.final());
      } catch (error) {
        callback(cipher.mode === 'cbc' ? new DecryptionError('ERR_DECRYPTION_FAILED', `${name} failed to decrypt`) : tampered(name, error));
      }
    },
  });
  pipeline(source, transform, () => undefined);
  return transform;
}

/**
 * The plaintext of the whole object, released as the caller's `s3ec` option says (see the module
 * comment). Zeroes the content key when the stream ends.
 */
export async function s3ecPlaintext(ctx: HandlerContext, opened: OpenedS3ecObject, options: SendOptions): Promise<Readable> {
  const name = objectName(String(opened.sameVersion.Bucket), String(opened.sameVersion.Key));
  const s3ec = ctx.s3ec as ResolvedS3ecOptions;
  const zero = () => opened.cipher.key.fill(0);
  try {
    let body: Readable;
    if (opened.total <= Math.max(s3ec.singlePassLimit, opened.tail.length)) body = await inMemory(ctx, opened, options, name);
    else if (opened.cipher.mode === 'cbc' || s3ec.delayedAuthentication) {
      const end = opened.cipher.mode === 'cbc' ? opened.total : opened.total - GCM_TAG;
      body = streaming(await stored(ctx, opened, 0, end, options), opened, name);
    } else {
      const digests = await checkTag(ctx, opened, options, name);
      body = releaseChecked(await stored(ctx, opened, 0, opened.total - GCM_TAG, options), opened, digests, name);
    }
    body.once('close', zero);
    return body;
  } catch (error) {
    zero();
    throw error;
  }
}

/**
 * Plaintext bytes [start, end) of a GCM object, unauthenticated (the caller opted in): GCM's keystream
 * from the first block needed, over exactly the stored bytes that cover the range.
 */
export async function s3ecUnauthenticatedRange(ctx: HandlerContext, opened: OpenedS3ecObject, start: number, end: number, options: SendOptions): Promise<Readable> {
  if (opened.cipher.mode === 'cbc') {
    opened.cipher.key.fill(0);
    const name = objectName(String(opened.sameVersion.Bucket), String(opened.sameVersion.Key));
    throw new S3ecError('ERR_S3EC_RANGE_UNAUTHENTICATED', `${name} is AES-CBC: ranges of it are not supported; read it whole`);
  }
  const firstBlock = Math.floor(start / AES_BLOCK);
  const keystream = gcmKeystream(opened.cipher, firstBlock);
  opened.cipher.key.fill(0);
  const source = await stored(ctx, opened, firstBlock * AES_BLOCK, end, options);
  const skip = start - firstBlock * AES_BLOCK;
  let skipped = 0;
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      let plaintext = keystream.update(chunk);
      if (skipped < skip) {
        const drop = Math.min(skip - skipped, plaintext.length);
        skipped += drop;
        plaintext = plaintext.subarray(drop);
      }
      callback(null, plaintext);
    },
  });
  pipeline(source, transform, () => undefined);
  return transform;
}

/** The refusal of a range the caller did not opt into. */
export function unauthenticatedRangeRefused(opened: OpenedS3ecObject): S3ecError {
  opened.cipher.key.fill(0);
  const name = objectName(String(opened.sameVersion.Bucket), String(opened.sameVersion.Key));
  return new S3ecError(
    'ERR_S3EC_RANGE_UNAUTHENTICATED',
    `${name} is an AWS S3 Encryption Client object: its one authentication tag covers the whole object, so a range of it cannot be authenticated; read it whole, or opt into s3ec.unauthenticatedRanges as the official clients' legacy ranged reads do`,
  );
}

/** Checks the stored bytes of a whole object against its tag without releasing anything (CopyObject, verify). */
export async function authenticateS3ecObject(ctx: HandlerContext, opened: OpenedS3ecObject, options: SendOptions): Promise<void> {
  const name = objectName(String(opened.sameVersion.Bucket), String(opened.sameVersion.Key));
  try {
    if (opened.cipher.mode === 'cbc') throw new DecryptionError('ERR_DECRYPTION_FAILED', `${name} is AES-CBC: it carries nothing to authenticate`);
    await checkTag(ctx, opened, options, name);
  } finally {
    opened.cipher.key.fill(0);
  }
}
