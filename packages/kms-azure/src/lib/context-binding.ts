import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { EncryptionContext } from '@s3crypt/client';

const BINDING_INFO = 's3crypt azure-key-vault context binding v1';
const TAG_LENGTH = 32;
const FORMAT_VERSION = 1;

/**
 * Serializes a context unambiguously: a 2-byte entry count, then for each entry in ascending key
 * order a 2-byte length and the UTF-8 key, a 2-byte length and the UTF-8 value.
 */
export function canonicalContext(context: EncryptionContext): Uint8Array {
  const entries = Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const parts: Buffer[] = [u16(entries.length)];
  for (const [key, value] of entries) {
    for (const text of [key, value]) {
      const bytes = Buffer.from(text, 'utf8');
      if (bytes.length > 0xffff) throw new TypeError('encryption context entries must be at most 65535 bytes');
      parts.push(u16(bytes.length), bytes);
    }
  }
  return Buffer.concat(parts);
}

/**
 * HMAC-SHA256 over the provider id, the versioned key id and the canonical context, keyed with a key
 * derived from the data key by HKDF-SHA256. Only a holder of the data key can produce it, and it
 * changes with any change to the context or key id.
 */
export function bindingTag(dataKey: Uint8Array, providerId: string, keyId: string, context: EncryptionContext): Buffer {
  const macKey = Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), BINDING_INFO, 32));
  try {
    const hmac = createHmac('sha256', macKey);
    for (const field of [Buffer.from(providerId, 'utf8'), Buffer.from(keyId, 'utf8'), canonicalContext(context)]) {
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
