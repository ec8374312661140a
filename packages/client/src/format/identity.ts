// The authenticated object identity (docs/FORMAT.md §9.7): what an application stores after a write
// and demands on later reads, so a store serving an older version or another write is detected.
import { createHash } from 'node:crypto';
import type { EncryptionContext } from '../keyrings/keyring.js';
import type { Envelope } from './envelope.js';
import { contextDigest } from './keys.js';

const IDENTITY_LABEL = Buffer.from('s3crypt object id', 'ascii');

/**
 * {@link objectIdentity}, computed on its first call and then kept: most reads and writes never ask
 * for it, and it costs two SHA-256 passes per request. `trailerTag` is copied, so the caller's buffer
 * (a whole sealed object, or a read's tail) is not kept alive by it.
 */
export function lazyObjectIdentity(envelope: Envelope, trailerTag: Uint8Array, context: EncryptionContext): () => string {
  const tag = Buffer.from(trailerTag);
  let id: string | undefined;
  return () => (id ??= objectIdentity(envelope, tag, context));
}

/** Computed only from authenticated values: the committed header fields, the trailer tag and the reader's context. */
export function objectIdentity(envelope: Envelope, trailerTag: Uint8Array, context: EncryptionContext): string {
  return createHash('sha256')
    .update(IDENTITY_LABEL)
    .update(Buffer.from([envelope.version]))
    .update(envelope.messageId)
    .update(envelope.commitment)
    .update(trailerTag)
    .update(contextDigest(context))
    .digest('base64url');
}
