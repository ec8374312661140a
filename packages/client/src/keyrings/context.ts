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
  const parts: Buffer[] = [];
  for (const key of Object.keys(context).sort()) {
    for (const text of [key, context[key] as string]) {
      const bytes = Buffer.from(text, 'utf8');
      const length = Buffer.alloc(2);
      length.writeUInt16BE(bytes.length);
      parts.push(length, bytes);
    }
  }
  return Buffer.concat(parts);
}
