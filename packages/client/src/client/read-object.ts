// Opening a stored object for reading: one ranged GET of its tail brings the metadata (envelope) and
// the trailer, and for small objects the whole object. The data key is unwrapped, its commitment and
// the trailer are authenticated, and the stored length is checked, all before any body byte is used.
import { GetObjectCommand, HeadObjectCommand, type GetObjectCommandInput, type GetObjectCommandOutput, type HeadObjectCommandInput } from '@aws-sdk/client-s3';
import type { ReadAudit } from '../audit/scope.js';
import { DecryptionError, KeyPolicyError, ObjectIdentityError, S3ecError, UnsupportedFormatError } from '../errors.js';
import { FORMAT_VERSION_1 } from '../format/constants.js';
import { findEnvelope, parseEnvelope, type Envelope } from '../format/envelope.js';
import { lazyObjectIdentity } from '../format/identity.js';
import type { KeySchedule } from '../format/keys.js';
import type { ObjectLayout } from '../format/layout.js';
import { readLayout, trailerLengthFromTail } from '../format/object.js';
import { objectEncryptionContext, type EncryptionContext } from '../keyrings/keyring.js';
import { objectName, requireString, signalOf, type HandlerContext, type SendOptions } from './context.js';
import { unwrapDataKey } from './materials.js';
import { namingObject, objectRefOf } from './object-errors.js';
import type { S3CryptRequestOptions } from './request-options.js';
import { checkPlaintextRead } from './plaintext-reads.js';
import { rethrowPinned } from './replaced-object.js';
import { openS3ecObject, storedAsS3ec, type OpenedS3ecObject } from './s3ec-read.js';
import { discardBody, expectRange, expectSuffix, readExactly, type ResponseBytes } from './store-response.js';

/**
 * Bytes fetched from the end of every object on first read: the whole of any small object in one
 * request. Larger reads reuse these bytes rather than fetching them again.
 */
export const TAIL_FETCH_LENGTH = 256 * 1024;

export interface OpenedObject {
  readonly encrypted: true;
  /** The tail response: status, headers and metadata of the stored object. Its body has been read. */
  readonly response: GetObjectCommandOutput;
  readonly envelope: Envelope;
  readonly layout: ObjectLayout;
  /** The authenticated object identity (docs/FORMAT.md §9.7), computed on the first call. */
  readonly identity: () => string;
  /** The authenticated trailer's tag (an identity input for copies). */
  readonly trailerTag: Uint8Array;
  /** The last stored bytes, from `tailOffset` to the end. */
  readonly tail: Buffer;
  readonly tailOffset: number;
  /** The unwrapped, commitment-checked data key. The caller zeroes it. */
  readonly dataKey: Uint8Array;
  /** The data key's schedule under this object's message id, for its part keys. */
  readonly keys: KeySchedule;
  /** Request fields for follow-up GETs of the same object version. */
  readonly sameVersion: GetObjectCommandInput;
}

/** What the first response's headers tell of an encrypted object, before its body is read or its key unwrapped. */
export interface TailHeaders {
  /** Stored bytes in the whole object. */
  readonly total: number;
  /** Where the first response's bytes start: everything before them is still to be fetched. */
  readonly tailOffset: number;
  /** Request fields for follow-up GETs of the same object version. */
  readonly sameVersion: GetObjectCommandInput;
  /** The envelope, parsed but not yet authenticated. */
  readonly envelope: Envelope;
  /** The first response's ETag, as the store reported it. */
  readonly etag: string | undefined;
}

/** How a caller takes part in opening an object, to save round trips. */
export interface OpenHooks {
  /**
   * Hears of an s3crypt object as soon as the first response's headers are checked, before its body
   * is read or its key unwrapped (a whole read starts fetching the rest there).
   */
  readonly onTailHeaders?: (tail: TailHeaders) => void;
  /** The first response, already asked for with {@link sendTailRequest}; asked for here when absent. */
  readonly firstResponse?: Promise<GetObjectCommandOutput>;
}

/** An object without an envelope that the caller's selection allows to be read as plaintext. */
export interface PlaintextObject {
  readonly encrypted: false;
  /** The ETag of the response whose metadata was checked: pin later requests to it. */
  readonly etag: string | undefined;
}

/** Fields of a GET or HEAD that select the object and its encryption, not the bytes. */
export function objectSelector(input: GetObjectCommandInput | HeadObjectCommandInput): GetObjectCommandInput {
  const { Bucket, Key, VersionId, SSECustomerAlgorithm, SSECustomerKey, SSECustomerKeyMD5, RequestPayer, ExpectedBucketOwner } = input;
  return { Bucket, Key, VersionId, SSECustomerAlgorithm, SSECustomerKey, SSECustomerKeyMD5, RequestPayer, ExpectedBucketOwner };
}

function tailRequest(request: GetObjectCommandInput, length: number): GetObjectCommand {
  return new GetObjectCommand({ ...request, Range: `bytes=-${length}` });
}

/** The first request of every read: the last {@link TAIL_FETCH_LENGTH} bytes, with the headers. */
export function sendTailRequest(ctx: HandlerContext, request: GetObjectCommandInput, options: SendOptions): Promise<GetObjectCommandOutput> {
  return ctx.inner.send(tailRequest(request, TAIL_FETCH_LENGTH), options);
}

async function fetchTail(ctx: HandlerContext, request: GetObjectCommandInput, length: number, options: SendOptions, what: string) {
  const response = await ctx.inner.send(tailRequest(request, length), options).catch(rethrowPinned);
  const expected = expectSuffix(response, length, what);
  return { ...expected, bytes: await readExactly(response, expected.length, what) };
}

/**
 * Stored bytes [start, end) of the version a read opened (`sameVersion`, pinned by ETag or version
 * id), in an object of `total` stored bytes: the response, checked against the range asked for
 * before a byte of its body is read (the caller reads it with a cap of exactly `end - start`).
 */
export async function getStoredRange(ctx: HandlerContext, sameVersion: GetObjectCommandInput, start: number, end: number, total: number, options: SendOptions): Promise<GetObjectCommandOutput> {
  const response = await ctx.inner.send(new GetObjectCommand({ ...sameVersion, Range: `bytes=${start}-${end - 1}` }), options).catch(rethrowPinned);
  expectRange(response, start, end, total, objectName(String(sameVersion.Bucket), String(sameVersion.Key)));
  return response;
}

/** A suffix range of an empty object: S3 answers 416 (InvalidRange). */
export function isUnsatisfiable(error: unknown): boolean {
  return (error as Error | undefined)?.name === 'InvalidRange' || (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode === 416;
}

/**
 * A suffix range of an empty object is unsatisfiable (416), and s3crypt never stores empty objects:
 * such an answer is either an empty plaintext object or an encrypted one whose body was cut off. Only
 * the object's metadata tells which, so HEAD the same version.
 */
async function openUnsatisfiable(ctx: HandlerContext, request: GetObjectCommandInput, options: SendOptions): Promise<PlaintextObject> {
  const { IfMatch, IfNoneMatch, IfModifiedSince, IfUnmodifiedSince } = request;
  const head = await ctx.inner.send(new HeadObjectCommand({ ...objectSelector(request), IfMatch, IfNoneMatch, IfModifiedSince, IfUnmodifiedSince }), options);
  if (findEnvelope(head.Metadata) !== undefined) throw new DecryptionError('ERR_OBJECT_TRUNCATED');
  await checkPlaintextRead(ctx.plaintextReads, String(request.Bucket), String(request.Key), head.Metadata, { scope: ctx.audit, versionId: head.VersionId });
  return { encrypted: false, etag: head.ETag };
}

/** The context a reader expects the object to be bound to. Format 1 cannot bind a caller context. */
function readerContext(envelope: Envelope, bucket: string, key: string, request: S3CryptRequestOptions, name: string): EncryptionContext {
  const caller = request.encryptionContext ?? {};
  if (envelope.version === FORMAT_VERSION_1 && Object.keys(caller).length > 0) {
    throw new KeyPolicyError('ERR_FORMAT_VERSION_NOT_ALLOWED', `${name} is format version 1, which cannot be bound to the encryption context the caller requires`);
  }
  return objectEncryptionContext(bucket, key, envelope.version, caller);
}

/**
 * Opens an encrypted object, or returns a {@link PlaintextObject} for an object without an envelope
 * that the caller's plaintext selection allows. `input` carries the caller's conditions (If-Match,
 * VersionId, SSE-C).
 */
export async function openObject(
  ctx: HandlerContext,
  input: GetObjectCommandInput,
  options: SendOptions,
  request: S3CryptRequestOptions = {},
  hooks: OpenHooks = {},
): Promise<OpenedObject | PlaintextObject> {
  return openAnyObject(ctx, input, options, request, false, hooks) as Promise<OpenedObject | PlaintextObject>;
}

/**
 * {@link openObject}, and with `foreign` also objects of the AWS S3 Encryption Client (when the
 * client's `s3ec` option reads them). Without `foreign` such an object is refused before any key call.
 * `hooks` let a caller save round trips.
 */
export async function openAnyObject(
  ctx: HandlerContext,
  input: GetObjectCommandInput,
  options: SendOptions,
  request: S3CryptRequestOptions,
  foreign: boolean,
  hooks: OpenHooks = {},
): Promise<OpenedObject | PlaintextObject | OpenedS3ecObject> {
  const bucket = requireString(input.Bucket, 'Bucket', 'GetObject');
  const key = requireString(input.Key, 'Key', 'GetObject');
  // The object is named here, not by the command: a copy reads its source through this function.
  return openStored(ctx, input, bucket, key, options, request, foreign, hooks).catch((error: unknown) => {
    throw namingObject(error, objectRefOf(input));
  });
}

async function openStored(
  ctx: HandlerContext,
  input: GetObjectCommandInput,
  bucket: string,
  key: string,
  options: SendOptions,
  request: S3CryptRequestOptions,
  foreign: boolean,
  hooks: OpenHooks,
): Promise<OpenedObject | PlaintextObject | OpenedS3ecObject> {
  // The caller's conditions and response-header overrides apply to the response the caller sees.
  const { IfMatch, IfNoneMatch, IfModifiedSince, IfUnmodifiedSince } = input;
  const { ResponseCacheControl, ResponseContentDisposition, ResponseContentEncoding, ResponseContentLanguage, ResponseContentType, ResponseExpires } = input;
  const firstRequest: GetObjectCommandInput = {
    ...objectSelector(input),
    ...{ IfMatch, IfNoneMatch, IfModifiedSince, IfUnmodifiedSince },
    ...{ ResponseCacheControl, ResponseContentDisposition, ResponseContentEncoding, ResponseContentLanguage, ResponseContentType, ResponseExpires },
  };
  let response: GetObjectCommandOutput;
  try {
    response = await (hooks.firstResponse ?? sendTailRequest(ctx, firstRequest, options));
  } catch (error) {
    if (isUnsatisfiable(error)) return openUnsatisfiable(ctx, firstRequest, options);
    throw error;
  }
  // Metadata first: an object that may not be read is not read at all.
  const envelopeValue = findEnvelope(response.Metadata);
  if (envelopeValue === undefined && (await storedAsS3ec(ctx, input, response.Metadata, options))) {
    return openForeign(ctx, input, response, options, request, foreign).catch((error: unknown) => {
      throw namingObject(error, objectRefOf(input, response.VersionId));
    });
  }
  if (envelopeValue === undefined) {
    discardBody(response);
    await checkPlaintextRead(ctx.plaintextReads, bucket, key, response.Metadata, { scope: ctx.audit, versionId: response.VersionId });
    return { encrypted: false, etag: response.ETag };
  }
  return openEncrypted(ctx, input, response, envelopeValue, options, request, hooks.onTailHeaders).catch((error: unknown) => {
    throw namingObject(error, objectRefOf(input, response.VersionId));
  });
}

/**
 * An AWS S3 Encryption Client object behind the first response: opened (one audit event, as any
 * read) when the caller handles that format and the client reads it; refused before any key call
 * otherwise. Never mistaken for plaintext, whatever the plaintext selection says.
 */
async function openForeign(ctx: HandlerContext, input: GetObjectCommandInput, response: GetObjectCommandOutput, options: SendOptions, request: S3CryptRequestOptions, foreign: boolean): Promise<OpenedS3ecObject> {
  const name = objectName(String(input.Bucket), String(input.Key));
  if (!foreign || !ctx.s3ec) {
    discardBody(response);
    if (!ctx.s3ec) throw new S3ecError('ERR_S3EC_DISABLED', `${name} was written by the AWS S3 Encryption Client; reading it needs the client's s3ec option`);
    throw new UnsupportedFormatError(`${name} was written by the AWS S3 Encryption Client; this operation reads s3crypt objects only (GetObject, HeadObject and CopyObject read both)`);
  }
  let first: ResponseBytes & { bytes: Buffer };
  try {
    const expected = expectSuffix(response, TAIL_FETCH_LENGTH, name);
    first = { ...expected, bytes: await readExactly(response, expected.length, name) };
  } catch (error) {
    discardBody(response);
    throw error;
  }
  // S3EC has no object identity.
  return audited(ctx, input, response, (audit) => openS3ecObject(ctx, input, response, first, options, request, audit), () => undefined);
}

/**
 * One read as one audit event: an unwrap that succeeds once `open` authenticated the object (with its
 * identity, where the format has one), or the failure or policy refusal that ended it.
 */
async function audited<T>(ctx: HandlerContext, input: GetObjectCommandInput, response: GetObjectCommandOutput, open: (audit: ReadAudit | undefined) => Promise<T>, identity: (opened: T) => string | undefined): Promise<T> {
  const audit = ctx.audit?.read(String(input.Bucket), String(input.Key), response.VersionId);
  try {
    const opened = await open(audit);
    await audit?.authenticated(identity(opened));
    return opened;
  } catch (error) {
    await audit?.failed(error);
    throw error;
  }
}

/**
 * The unwrap and the read of the tail's body, which run together. Whichever fails first ends the
 * read: the body is dropped, and a key that still arrives is zeroed before the error is thrown, so
 * nothing of the failed read outlives it (and its audit event records every keyring call).
 */
async function unwrapWhileReading<T extends { readonly dataKey: Uint8Array }>(unwrapping: Promise<T>, reading: Promise<Buffer>, drop: () => void): Promise<T & { readonly bytes: Buffer }> {
  try {
    // An unwrap that fails does not wait for the body; one that succeeds does.
    const bytes = await Promise.race([reading, unwrapping.then(() => reading)]);
    return { ...(await unwrapping), bytes };
  } catch (error) {
    drop();
    await unwrapping.then(
      ({ dataKey }) => dataKey.fill(0),
      () => undefined,
    );
    throw error;
  }
}

/** The encrypted object behind the first response `response`, whose metadata holds `envelopeValue`; one audited read. */
async function openEncrypted(
  ctx: HandlerContext,
  input: GetObjectCommandInput,
  response: GetObjectCommandOutput,
  envelopeValue: string,
  options: SendOptions,
  request: S3CryptRequestOptions,
  onTailHeaders: ((tail: TailHeaders) => void) | undefined,
): Promise<OpenedObject> {
  return audited(ctx, input, response, (audit) => openAuthenticated(ctx, input, response, envelopeValue, options, request, audit, onTailHeaders), (opened) => opened.identity());
}

async function openAuthenticated(
  ctx: HandlerContext,
  input: GetObjectCommandInput,
  response: GetObjectCommandOutput,
  envelopeValue: string,
  options: SendOptions,
  request: S3CryptRequestOptions,
  audit: ReadAudit | undefined,
  onTailHeaders: ((tail: TailHeaders) => void) | undefined,
): Promise<OpenedObject> {
  const bucket = String(input.Bucket);
  const key = String(input.Key);
  const name = objectName(bucket, key);
  let envelope: Envelope;
  let expected: ResponseBytes;
  let context: EncryptionContext;
  try {
    envelope = parseEnvelope(envelopeValue);
    audit?.envelope(envelope.version);
    expected = expectSuffix(response, TAIL_FETCH_LENGTH, name);
    context = readerContext(envelope, bucket, key, request, name);
  } catch (error) {
    discardBody(response);
    throw error;
  }
  const total = expected.total;
  // Later reads must see this very object version, even if the key is overwritten meanwhile.
  const sameVersion = { ...objectSelector(input), ...(input.VersionId ? {} : { IfMatch: response.ETag }) };
  onTailHeaders?.({ total, tailOffset: total - expected.length, sameVersion, envelope, etag: response.ETag });
  // The envelope came with the headers: the keyring (a KMS round trip) works while the tail arrives.
  const { dataKey, keys, bytes } = await unwrapWhileReading(
    unwrapDataKey(ctx.keyring, ctx.policy, envelope, context, name, signalOf(options), audit),
    readExactly(response, expected.length, name),
    () => discardBody(response),
  );
  try {
    let tail = bytes;
    const trailerLength = trailerLengthFromTail(tail, envelope);
    if (trailerLength > total) throw new DecryptionError('ERR_OBJECT_TRUNCATED');
    if (trailerLength > tail.length) {
      const more = await fetchTail(ctx, sameVersion, trailerLength, options, name);
      if (more.total !== total) throw new DecryptionError('ERR_OBJECT_MALFORMED', `the store reported two different lengths for ${name}`);
      tail = more.bytes;
    }
    const { layout, trailer } = readLayout(keys, envelope, tail.subarray(tail.length - trailerLength), total);
    ctx.policy.checkSignature(envelope, trailer, name);
    const identity = lazyObjectIdentity(envelope, trailer.tag, context);
    if (request.expectedObjectId !== undefined && request.expectedObjectId !== identity()) {
      throw new ObjectIdentityError(`${name} is not the object the caller expected: the store served another version or another write`);
    }
    return { encrypted: true, response, envelope, layout, identity, trailerTag: trailer.tag, tail, tailOffset: total - tail.length, dataKey, keys, sameVersion };
  } catch (error) {
    dataKey.fill(0);
    throw error;
  }
}
