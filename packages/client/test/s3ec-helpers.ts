// Shared by the S3EC tests: the vector files and a whole-object decryption the way a reader would do it
// (parse → map the wrapped key → keyring → content cipher → plaintext only after the tag verifies).
import { readFileSync } from 'node:fs';
import type { DecipherGCM } from 'node:crypto';
import { createS3ecDecipher } from '../src/format/s3ec/content-cipher.js';
import { s3ecDecryptionContext, s3ecEncryptedDataKey } from '../src/format/s3ec/data-key.js';
import type { S3ecEnvelope } from '../src/format/s3ec/envelope.js';
import { S3EC_CBC, S3EC_GCM_TAG_LENGTH } from '../src/format/s3ec/metadata.js';
import type { Keyring } from '../src/keyrings/keyring.js';

export interface DerivationVector {
  description: string;
  dataKey: string;
  messageId: string;
  derivedKey: string;
  commitment: string;
}

export interface WrappingVector {
  description: string;
  wrapAlgorithm: string;
  cekAlgorithm: string;
  wrapped: string;
}

export interface ObjectVector {
  description: string;
  dataKey: string;
  metadata: Record<string, string>;
  instructionFile?: string;
  body: string;
  plaintext: string;
}

function vectors<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./vectors/${name}`, import.meta.url), 'utf8')) as T;
}

export const derivationFile = vectors<{ vectors: DerivationVector[] }>('s3ec-derivation.json');
export const wrappingFile = vectors<{ aesKek: string; rsaPrivateKeyPem: string; dataKey: string; vectors: WrappingVector[] }>('s3ec-wrapping.json');
export const objectsFile = vectors<{ vectors: ObjectVector[] }>('s3ec-objects.json');

export const hex = (text: string): Buffer => Buffer.from(text, 'hex');
export const b64 = (text: string): Buffer => Buffer.from(text, 'base64');

/** The body of an S3EC object decrypted with `dataKey`; GCM releases nothing unless the tag verifies. */
export function decryptBody(envelope: S3ecEnvelope, dataKey: Uint8Array, stored: Buffer): Buffer {
  const decipher = createS3ecDecipher(envelope, dataKey);
  if (envelope.contentAlgorithm === S3EC_CBC) return Buffer.concat([decipher.update(stored), decipher.final()]);
  (decipher as DecipherGCM).setAuthTag(stored.subarray(stored.length - S3EC_GCM_TAG_LENGTH));
  const plaintext = decipher.update(stored.subarray(0, stored.length - S3EC_GCM_TAG_LENGTH));
  return Buffer.concat([plaintext, decipher.final()]);
}

/** The whole read: the keyring unwraps the envelope's key, which decrypts the body. */
export async function readObject(envelope: S3ecEnvelope, keyring: Keyring, stored: Buffer): Promise<Buffer> {
  const dataKey = await keyring.onDecrypt({ context: s3ecDecryptionContext(envelope), encryptedDataKeys: [s3ecEncryptedDataKey(envelope)] });
  if (!dataKey) throw new Error('the keyring did not claim the data key');
  try {
    return decryptBody(envelope, dataKey, stored);
  } finally {
    dataKey.fill(0);
  }
}
