// Opening a stored object for reading: one ranged GET of its tail brings the metadata (envelope) and
// the trailer, and for small objects the whole object. The data key is unwrapped, its commitment and
// the trailer are authenticated, and the stored length is checked, all before any body byte is used.
import { GetObjectCommand, type GetObjectCommandInput, type GetObjectCommandOutput, type HeadObjectCommandInput } from '@aws-sdk/client-s3';
import { DecryptionError, KeyPolicyError, NotEncryptedError, ObjectIdentityError } from '../errors.js';
import { FORMAT_VERSION_1 } from '../format/constants.js';
import { findEnvelope, parseEnvelope, type Envelope } from '../format/envelope.js';
import { objectIdentity } from '../format/identity.js';
import type { ObjectLayout } from '../format/layout.js';
import { readLayout, trailerLengthFromTail } from '../format/object.js';
import { objectEncryptionContext, type EncryptionContext } from '../keyrings/keyring.js';
import { objectName, requireString, signalOf, type HandlerContext, type SendOptions } from './context.js';
import { unwrapDataKey } from './materials.js';
import type { S3CryptRequestOptions } from './request-options.js';

/**
 * Bytes fetched from the end of every object on first read: the whole of any small object in one
 * request. Larger reads reuse these bytes rather than fetching them again.
 */
export const TAIL_FETCH_LENGTH = 256 * 1024;

/** The refusal of an object that carries no envelope, when plaintext reads are not allowed. */
export function notEncrypted(bucket: string, key: string): NotEncryptedError {
  return new NotEncryptedError(`${bucket}/${key} has no s3crypt envelope; it was not written by s3crypt (set allowPlaintextReads to read such objects)`);
}

export interface OpenedObject {
  /** The tail response: status, headers and metadata of the stored object. */
  readonly response: GetObjectCommandOutput;
  readonly envelope: Envelope;
  readonly layout: ObjectLayout;
  /** The authenticated object identity (docs/FORMAT.md §9.7). */
  readonly objectId: string;
  /** The last stored bytes, from `tailOffset` to the end. */
  readonly tail: Buffer;
  readonly tailOffset: number;
  /** The unwrapped, commitment-checked data key. The caller zeroes it. */
  readonly dataKey: Uint8Array;
  /** Request fields for follow-up GETs of the same object version. */
  readonly sameVersion: GetObjectCommandInput;
}

/** Fields of a GET or HEAD that select the object and its encryption, not the bytes. */
export function objectSelector(input: GetObjectCommandInput | HeadObjectCommandInput): GetObjectCommandInput {
  const { Bucket, Key, VersionId, SSECustomerAlgorithm, SSECustomerKey, SSECustomerKeyMD5, RequestPayer, ExpectedBucketOwner } = input;
  return { Bucket, Key, VersionId, SSECustomerAlgorithm, SSECustomerKey, SSECustomerKeyMD5, RequestPayer, ExpectedBucketOwner };
}

function storedLength(response: GetObjectCommandOutput): number {
  const total = /\/(\d+)$/.exec(response.ContentRange ?? '')?.[1];
  const length = total !== undefined ? Number(total) : response.ContentLength;
  if (length === undefined || !Number.isSafeInteger(length)) throw new DecryptionError('ERR_OBJECT_MALFORMED', 'the store did not report the object length');
  return length;
}

async function fetchTail(ctx: HandlerContext, request: GetObjectCommandInput, length: number, options: SendOptions) {
  const response = await ctx.inner.send(new GetObjectCommand({ ...request, Range: `bytes=-${length}` }), options);
  const bytes = response.Body ? Buffer.from(await response.Body.transformToByteArray()) : Buffer.alloc(0);
  return { response, bytes };
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
 * Opens an encrypted object, or returns `undefined` for an object without an envelope when the client
 * allows plaintext reads. `input` carries the caller's conditions (If-Match, VersionId, SSE-C).
 */
export async function openObject(
  ctx: HandlerContext,
  input: GetObjectCommandInput,
  options: SendOptions,
  request: S3CryptRequestOptions = {},
): Promise<OpenedObject | undefined> {
  const bucket = requireString(input.Bucket, 'Bucket', 'GetObject');
  const key = requireString(input.Key, 'Key', 'GetObject');
  // The caller's conditions and response-header overrides apply to the response the caller sees.
  const { IfMatch, IfNoneMatch, IfModifiedSince, IfUnmodifiedSince } = input;
  const { ResponseCacheControl, ResponseContentDisposition, ResponseContentEncoding, ResponseContentLanguage, ResponseContentType, ResponseExpires } = input;
  const firstRequest: GetObjectCommandInput = {
    ...objectSelector(input),
    ...{ IfMatch, IfNoneMatch, IfModifiedSince, IfUnmodifiedSince },
    ...{ ResponseCacheControl, ResponseContentDisposition, ResponseContentEncoding, ResponseContentLanguage, ResponseContentType, ResponseExpires },
  };
  const first = await fetchTail(ctx, firstRequest, TAIL_FETCH_LENGTH, options).catch(
    (error: unknown) => {
      // A suffix range of an empty object is unsatisfiable; s3crypt never stores empty objects.
      if ((error as Error).name === 'InvalidRange') return undefined;
      throw error;
    },
  );
  const envelopeValue = findEnvelope(first?.response.Metadata);
  if (!first || envelopeValue === undefined) {
    if (ctx.allowPlaintextReads) return undefined;
    throw notEncrypted(bucket, key);
  }
  const envelope = parseEnvelope(envelopeValue);
  const total = storedLength(first.response);
  // Later reads must see this very object version, even if the key is overwritten meanwhile.
  const sameVersion = { ...objectSelector(input), ...(input.VersionId ? {} : { IfMatch: first.response.ETag }) };

  const name = objectName(bucket, key);
  const context = readerContext(envelope, bucket, key, request, name);
  const { dataKey } = await unwrapDataKey(ctx.keyring, ctx.policy, envelope, context, name, signalOf(options));
  try {
    let tail = first.bytes;
    const trailerLength = trailerLengthFromTail(tail, envelope);
    if (trailerLength > total) throw new DecryptionError('ERR_OBJECT_TRUNCATED');
    if (trailerLength > tail.length) tail = (await fetchTail(ctx, sameVersion, trailerLength, options)).bytes;
    const { layout, trailer } = readLayout(dataKey, envelope, tail.subarray(tail.length - trailerLength), total);
    ctx.policy.checkSignature(envelope, trailer, name);
    const objectId = objectIdentity(envelope, trailer.tag, context);
    if (request.expectedObjectId !== undefined && request.expectedObjectId !== objectId) {
      throw new ObjectIdentityError(`${name} is not the object the caller expected: the store served another version or another write`);
    }
    return { response: first.response, envelope, layout, objectId, tail, tailOffset: total - tail.length, dataKey, sameVersion };
  } catch (error) {
    dataKey.fill(0);
    throw error;
  }
}
