// Verifying a stored object without keeping its plaintext: the envelope, key commitment, trailer and
// stored length as on every read, then every segment of the body through the segment opener.
import type { GetObjectCommandInput } from '@aws-sdk/client-s3';
import type { Envelope } from '../format/envelope.js';
import { planRead, type ObjectLayout } from '../format/layout.js';
import type { HandlerContext, SendOptions } from './context.js';
import { plaintextStream } from './get-object.js';
import { EarlyBody } from './early-body.js';
import { openAnyObject, type OpenedObject, type PlaintextObject } from './read-object.js';
import { authenticateS3ecObject, type OpenedS3ecObject } from './s3ec-read.js';
import type { S3ecEnvelope } from '../format/s3ec/envelope.js';
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

/** An AWS S3 Encryption Client object whose whole body authenticated against its tag. */
export interface VerifiedS3ecObject {
  readonly encrypted: true;
  readonly format: 's3ec';
  readonly envelope: S3ecEnvelope;
  readonly plaintextLength: number;
  readonly storedLength: number;
  readonly etag: string | undefined;
  readonly versionId: string | undefined;
}

/**
 * Authenticates every segment of an opened object's body, reading it once and discarding (zeroing)
 * the plaintext. Fails with the typed error of the first check that fails. `opened.dataKey` stays the
 * caller's to zero.
 */
export async function authenticateBody(ctx: HandlerContext, opened: OpenedObject, options: SendOptions, early?: EarlyBody): Promise<void> {
  const body = await plaintextStream(ctx, opened, planRead(opened.layout, 0, opened.layout.plaintextLength, true), options, early);
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
): Promise<VerifiedObject | PlaintextObject | VerifiedS3ecObject> {
  // The body is asked for while the tail is opened (client/early-body.ts).
  const early = new EarlyBody(ctx, options);
  try {
    return await authenticateOpened(ctx, await openAnyObject(ctx, input, options, request, true, { onTailHeaders: (tail) => early.start(tail) }), options, early);
  } finally {
    early.dispose();
  }
}

async function authenticateOpened(ctx: HandlerContext, opened: OpenedObject | PlaintextObject | OpenedS3ecObject, options: SendOptions, early: EarlyBody): Promise<VerifiedObject | PlaintextObject | VerifiedS3ecObject> {
  if ('format' in opened) {
    // The tag over the whole object, checked without keeping any plaintext (the first pass of a read).
    await authenticateS3ecObject(ctx, opened, options);
    return { encrypted: true, format: 's3ec', envelope: opened.envelope, plaintextLength: opened.plaintextLength, storedLength: opened.total, etag: opened.response.ETag, versionId: opened.response.VersionId };
  }
  if (!opened.encrypted) return opened;
  try {
    await authenticateBody(ctx, opened, options, early);
    return { encrypted: true, envelope: opened.envelope, layout: opened.layout, objectId: opened.identity(), etag: opened.response.ETag, versionId: opened.response.VersionId };
  } finally {
    opened.dataKey.fill(0);
  }
}
