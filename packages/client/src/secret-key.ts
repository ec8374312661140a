// Raw key bytes as a KeyObject, for node:crypto calls on hot or per-request paths. Node 24 checks
// every raw key handed to createCipheriv, createHmac or hkdfSync for being a KeyObject or a
// CryptoKey by throwing and catching exceptions (~10 µs a call, more in deep async stacks);
// createSecretKey takes bytes without that check, and a KeyObject passes it at once. Node keeps the
// same kind of native copy of the key for a raw key internally; either is cleared when freed.
import { createSecretKey, type KeyObject } from 'node:crypto';

/**
 * `bytes` as a secret KeyObject (a copy: zeroing `bytes` afterwards does not affect it).
 *
 * @example
 * ```ts
 * const cipher = createCipheriv('aes-256-gcm', secretKey(partKey), nonce);
 * ```
 */
export function secretKey(bytes: Uint8Array | KeyObject): KeyObject {
  return bytes instanceof Uint8Array ? createSecretKey(bytes) : bytes;
}
