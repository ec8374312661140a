// The object identity is computed when first asked for (format/identity.ts, client/object-info.ts):
// the value must be exactly objectIdentity's, survive the caller's buffers being reused, and reach
// whoever spreads or serialises an output's info.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encryptedObjectInfo } from '../src/client/object-info.js';
import type { Envelope } from '../src/format/envelope.js';
import { lazyObjectIdentity, objectIdentity } from '../src/format/identity.js';
import { objectEncryptionContext } from '../src/keyrings/keyring.js';

const envelope = { version: 2, messageId: randomBytes(16), commitment: randomBytes(32) } as unknown as Envelope;
const context = objectEncryptionContext('bucket', 'key');

describe('lazyObjectIdentity', () => {
  it('gives objectIdentity, computed once, and keeps its own copy of the trailer tag', () => {
    const sealed = randomBytes(64);
    const tag = sealed.subarray(32, 48);
    const expected = objectIdentity(envelope, Buffer.from(tag), context);
    const identity = lazyObjectIdentity(envelope, tag, context);
    // The sealed object's buffer is reused (or zeroed) before anyone asks for the identity.
    sealed.fill(0);
    expect(identity()).toBe(expected);
    expect(identity()).toBe(expected);
  });
});

describe('encryptedObjectInfo', () => {
  it('computes objectId on first read only, and a spread or JSON copy carries the value', () => {
    let calls = 0;
    const info = encryptedObjectInfo(2, () => {
      calls += 1;
      return 'the-id';
    });
    expect(info).toMatchObject({ encrypted: true, formatVersion: 2 });
    expect(calls).toBe(0);
    expect(info.objectId).toBe('the-id');
    expect(calls).toBe(1);
    expect({ ...info }).toEqual({ encrypted: true, formatVersion: 2, objectId: 'the-id' });
    expect(JSON.parse(JSON.stringify({ S3Crypt: info }))).toEqual({ S3Crypt: { encrypted: true, formatVersion: 2, objectId: 'the-id' } });
  });
});
