// An independent reading of docs/FORMAT.md §10 (customer-key EDKs), written from the text with
// node:crypto only, never from src/: the vectors are generated with it and CustomerKeyring is
// checked against it, so the keyring and the document cannot drift apart unnoticed.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync } from 'node:crypto';
import { serializeContext } from '../src/keyrings/context.js';

export const PROVIDER_ID = 's3crypt-customer-key';

function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from(info), 32));
}

export function specMac(customerKey: Uint8Array, salt: Uint8Array): Buffer {
  const fingerprintKey = hkdf(customerKey, Buffer.alloc(0), 's3crypt customer-key v1 fingerprint key');
  return createHmac('sha256', fingerprintKey).update(Buffer.from('s3crypt customer-key v1 fingerprint')).update(salt).digest();
}

export function specKeyId(customerKey: Uint8Array, salt: Uint8Array): string {
  return 'v1.' + Buffer.concat([salt, specMac(customerKey, salt)]).toString('base64url');
}

/** The EDK a customer key makes for `dataKey` under `context`, with the given salt. */
export function specWrap(customerKey: Uint8Array, salt: Uint8Array, dataKey: Uint8Array, context: Record<string, string>) {
  const cipher = createCipheriv('aes-256-gcm', hkdf(customerKey, salt, 's3crypt customer-key v1 wrap'), Buffer.alloc(12));
  cipher.setAAD(serializeContext(context));
  const ciphertext = Buffer.concat([cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
  return { providerId: PROVIDER_ID, keyId: specKeyId(customerKey, salt), ciphertext };
}

/** The data key in an EDK, if `customerKey` made it for `context`; throws otherwise. */
export function specUnwrap(customerKey: Uint8Array, edk: { keyId: string; ciphertext: Uint8Array }, context: Record<string, string>): Buffer {
  const bytes = Buffer.from(edk.keyId.slice(3), 'base64url');
  const salt = bytes.subarray(0, 16);
  if (!edk.keyId.startsWith('v1.') || bytes.length !== 48 || !specMac(customerKey, salt).equals(bytes.subarray(16))) throw new Error('not this key');
  const decipher = createDecipheriv('aes-256-gcm', hkdf(customerKey, salt, 's3crypt customer-key v1 wrap'), Buffer.alloc(12));
  decipher.setAAD(serializeContext(context));
  decipher.setAuthTag(Buffer.from(edk.ciphertext).subarray(32));
  return Buffer.concat([decipher.update(Buffer.from(edk.ciphertext).subarray(0, 32)), decipher.final()]);
}
