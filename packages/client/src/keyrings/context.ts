import type { EncryptionContext } from './keyring.js';

/**
 * Canonical bytes of an encryption context: entries sorted by key, each as u16 length-prefixed UTF-8
 * key and value. Keyrings that bind the context as AAD use this, so equal contexts give equal bytes.
 *
 * @example
 * ```ts
 * cipher.setAAD(serializeContext(request.context)); // bind the object to a wrapped key
 * ```
 */
export function serializeContext(context: EncryptionContext): Buffer {
  // Sized first, then written in place: this runs several times per request (key wrapping AAD, the
  // header key, the object identity).
  const keys = Object.keys(context).sort();
  let length = 0;
  for (const key of keys) length += 4 + Buffer.byteLength(key, 'utf8') + Buffer.byteLength(context[key] as string, 'utf8');
  const bytes = Buffer.allocUnsafe(length);
  let offset = 0;
  for (const key of keys) {
    for (const text of [key, context[key] as string]) {
      const written = bytes.write(text, offset + 2, 'utf8');
      bytes.writeUInt16BE(written, offset);
      offset += 2 + written;
    }
  }
  return bytes;
}
