// The authenticated object identity (docs/FORMAT.md §9.7): what an application stores after a write
// and demands on later reads, so a store serving an older version or another write is detected.
import { createHash } from 'node:crypto';
import type { EncryptionContext } from '../keyrings/keyring.js';
import type { Envelope } from './envelope.js';
import { contextDigest } from './keys.js';

const IDENTITY_LABEL = Buffer.from('s3crypt object id', 'ascii');

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
