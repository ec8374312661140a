// AES-256-GCM of one 32-byte data key, as every local wrapping in s3crypt does it (RawAesKeyring,
// CustomerKeyring, the hierarchical keyring): sealed as ciphertext ‖ tag; opened only when the tag
// verifies, a decrypted key whose tag fails being zeroed before the error leaves. Layouts around it
// (IVs, salts, versions) stay each keyring's own.
import { createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto';
import { secretKey } from '../secret-key.js';
import { DATA_KEY_LENGTH } from './keyring.js';

const TAG_LENGTH = 16;

/**
 * `dataKey` sealed under `wrappingKey` (32 bytes, or a secret KeyObject of them) with `iv` and `aad`: 32 ciphertext bytes ‖ 16-byte tag.
 * For keyring authors; a (key, iv) pair must never seal twice.
 *
 * @example
 * ```ts
 * const sealed = sealDataKey(wrappingKey, iv, dataKey, serializeContext(context)); // 48 bytes
 * ```
 */
export function sealDataKey(wrappingKey: Uint8Array | KeyObject, iv: Uint8Array, dataKey: Uint8Array, aad: Uint8Array): Buffer {
  const cipher = createCipheriv('aes-256-gcm', secretKey(wrappingKey), iv);
  cipher.setAAD(aad);
  return Buffer.concat([cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
}

/**
 * The data key in `sealed` (32 ciphertext bytes ‖ 16-byte tag), or a throw: a `RangeError` for a
 * wrong length, the cipher's error for a wrong key, IV, AAD or tampered bytes. The caller maps every
 * throw to one typed error, and zeroes the key it gets.
 *
 * @example
 * ```ts
 * const dataKey = openDataKey(wrappingKey, iv, sealed, serializeContext(context));
 * ```
 */
export function openDataKey(wrappingKey: Uint8Array | KeyObject, iv: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Buffer {
  if (sealed.length !== DATA_KEY_LENGTH + TAG_LENGTH) throw new RangeError('a sealed data key is 48 bytes');
  const decipher = createDecipheriv('aes-256-gcm', secretKey(wrappingKey), iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(DATA_KEY_LENGTH));
  const dataKey = decipher.update(sealed.subarray(0, DATA_KEY_LENGTH));
  try {
    decipher.final();
    return dataKey;
  } catch (error) {
    dataKey.fill(0);
    throw error;
  }
}
