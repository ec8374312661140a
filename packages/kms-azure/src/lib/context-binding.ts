import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { serializeContext, type EncryptionContext } from '@s3crypt/client';

const BINDING_INFO = 's3crypt azure-key-vault context binding v1';
const TAG_LENGTH = 32;
const FORMAT_VERSION = 1;

/**
 * HMAC-SHA256 over the provider id, the versioned key id and the canonical context, keyed with a key
 * derived from the data key by HKDF-SHA256. Only a holder of the data key can produce it, and it
 * changes with any change to the context or key id.
 */
export function bindingTag(dataKey: Uint8Array, providerId: string, keyId: string, context: EncryptionContext): Buffer {
  const macKey = Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), BINDING_INFO, 32));
  try {
    const hmac = createHmac('sha256', macKey);
    for (const field of [Buffer.from(providerId, 'utf8'), Buffer.from(keyId, 'utf8'), serializeContext(context)]) {
      hmac.update(u32(field.length)).update(field);
    }
    return hmac.digest();
  } finally {
    macKey.fill(0);
  }
}

export function tagsEqual(expected: Uint8Array, actual: Uint8Array): boolean {
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** EDK ciphertext layout: version (1 byte) ‖ wrapped key length (2 bytes) ‖ wrapped key ‖ tag (32 bytes). */
export function encodeWrapped(wrappedKey: Uint8Array, tag: Uint8Array): Uint8Array {
  return Buffer.concat([Buffer.from([FORMAT_VERSION]), u16(wrappedKey.length), wrappedKey, tag]);
}

/** Parses {@link encodeWrapped}'s layout; undefined when the bytes do not have that shape. */
export function decodeWrapped(ciphertext: Uint8Array): { wrappedKey: Uint8Array; tag: Uint8Array } | undefined {
  if (ciphertext.length < 3 + TAG_LENGTH || ciphertext[0] !== FORMAT_VERSION) return undefined;
  const length = ((ciphertext[1] ?? 0) << 8) | (ciphertext[2] ?? 0);
  if (ciphertext.length !== 3 + length + TAG_LENGTH) return undefined;
  return { wrappedKey: ciphertext.subarray(3, 3 + length), tag: ciphertext.subarray(3 + length) };
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
