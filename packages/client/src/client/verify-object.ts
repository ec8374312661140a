// Verifying a stored object without keeping its plaintext: the envelope, key commitment, trailer and
// stored length as on every read, then every segment of the body through the segment opener.
import type { GetObjectCommandInput } from '@aws-sdk/client-s3';
import type { Envelope } from '../format/envelope.js';
import type { ObjectLayout } from '../format/layout.js';
import type { HandlerContext, SendOptions } from './context.js';
import { plaintextStream } from './get-object.js';
import { openObject, type OpenedObject, type PlaintextObject } from './read-object.js';
import type { S3CryptRequestOptions } from './request-options.js';

/** An encrypted object whose every stored byte authenticated. */
export interface VerifiedObject {
  readonly encrypted: true;
  readonly envelope: Envelope;
  /** The authenticated object identity. */
  readonly objectId: string;
  readonly layout: ObjectLayout;
  /** The ETag of the version that was verified: pin later requests to it. */
  readonly etag: string | undefined;
  readonly versionId: string | undefined;
}

/**
 * Authenticates every segment of an opened object's body, reading it once and discarding (zeroing)
 * the plaintext. Fails with the typed error of the first check that fails. `opened.dataKey` stays the
 * caller's to zero.
 */
export async function authenticateBody(ctx: HandlerContext, opened: OpenedObject, options: SendOptions): Promise<void> {
  const body = await plaintextStream(ctx, opened, { start: 0, end: opened.layout.plaintextLength, whole: true }, options);
  for await (const chunk of body as AsyncIterable<Buffer>) chunk.fill(0);
}

/**
 * Opens the object `input` selects (bucket, key, version, SSE-C, conditions) and authenticates all
 * of it, or returns a {@link PlaintextObject} for an object without an envelope that the plaintext
 * selection allows. The whole object is read once.
 *
 * @example
 * ```ts
 * const verified = await authenticateObject(ctx, { Bucket: 'b', Key: 'k' }, undefined); // throws S3CryptError if tampered
 * if (verified.encrypted) console.log('intact', verified.etag, verified.layout.plaintextLength);
 * ```
 */
export async function authenticateObject(
  ctx: HandlerContext,
  input: GetObjectCommandInput,
  options: SendOptions,
  request: S3CryptRequestOptions = {},
): Promise<VerifiedObject | PlaintextObject> {
  const opened = await openObject(ctx, input, options, request);
  if (!opened.encrypted) return opened;
  try {
    await authenticateBody(ctx, opened, options);
    return { encrypted: true, envelope: opened.envelope, layout: opened.layout, objectId: opened.objectId, etag: opened.response.ETag, versionId: opened.response.VersionId };
  } finally {
    opened.dataKey.fill(0);
  }
}
