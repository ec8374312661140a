import type { EncryptionContext } from '@s3crypt/client';

/**
 * Serializes a context unambiguously, for use as additional authenticated data: a 2-byte entry
 * count, then for each entry in ascending key order a 2-byte length and the UTF-8 key, a 2-byte
 * length and the UTF-8 value.
 */
export function canonicalContext(context: EncryptionContext): Buffer {
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

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
