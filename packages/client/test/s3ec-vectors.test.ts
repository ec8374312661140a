// Known answers for the AWS S3 Encryption Client format: the V3 key schedule (two vectors published by
// the official Go client, more computed independently with Python `cryptography`), every wrapping, and
// whole objects (V3 in metadata and in instruction files of three layouts, V2 GCM, V2/V1 CBC) read end
// to end through s3crypt's parser, key mapping, keyrings and content ciphers.
import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { s3ecDecryptionContext, s3ecEncryptedDataKey } from '../src/format/s3ec/data-key.js';
import { parseS3ecEnvelope } from '../src/format/s3ec/envelope.js';
import { deriveS3ecV3ContentKey, s3ecV3Commitment, s3ecV3ContentKey } from '../src/format/s3ec/key-derivation.js';
import { s3ecV3Encryptor } from '../src/format/s3ec/v3-writer.js';
import { S3ecAesKeyring } from '../src/keyrings/s3ec-aes.js';
import { S3ecRsaKeyring } from '../src/keyrings/s3ec-rsa.js';
import type { Keyring } from '../src/keyrings/keyring.js';
import { b64, decryptBody, derivationFile, hex, objectsFile, readObject, wrappingFile } from './s3ec-helpers.js';

const aesKek = hex(wrappingFile.aesKek);
const privateKey = createPrivateKey(wrappingFile.rsaPrivateKeyPem);

/** The keyring an object vector's wrapping needs, with legacy wrappings enabled (the vectors include them). */
function keyringFor(materialDescription: Readonly<Record<string, string>>, wrapAlgorithm: string): Keyring {
  const options = { materialDescription, enableLegacyWrappingAlgorithms: true };
  return wrapAlgorithm.startsWith('RSA') ? new S3ecRsaKeyring({ privateKey, ...options }) : new S3ecAesKeyring({ wrappingKey: aesKek, ...options });
}

describe('S3EC V3 key derivation (HKDF-SHA512, salt = message id)', () => {
  for (const vector of derivationFile.vectors) {
    it(vector.description, () => {
      const dataKey = hex(vector.dataKey);
      const messageId = hex(vector.messageId);
      expect(s3ecV3Commitment(dataKey, messageId).toString('hex')).toBe(vector.commitment);
      expect(deriveS3ecV3ContentKey(dataKey, messageId).toString('hex')).toBe(vector.derivedKey);
      expect(s3ecV3ContentKey(dataKey, messageId, hex(vector.commitment)).toString('hex')).toBe(vector.derivedKey);
    });
  }

  it('includes the two vectors the official Go client publishes', () => {
    expect(derivationFile.vectors.filter((vector) => vector.description.includes('Go client'))).toHaveLength(2);
  });
});

describe('S3EC data key wrappings unwrap to the known key', () => {
  for (const vector of wrappingFile.vectors) {
    it(vector.description, async () => {
      const keyring = keyringFor({}, vector.wrapAlgorithm);
      const envelopeLike = { wrapAlgorithm: vector.wrapAlgorithm, materialDescription: {}, encryptionContext: {}, wrappedKey: b64(vector.wrapped) };
      const edk = s3ecEncryptedDataKey({ ...envelopeLike, formatVersion: 2, contentAlgorithm: 'AES/GCM/NoPadding', iv: Buffer.alloc(12), instructionFile: false } as never);
      const dataKey = await keyring.onDecrypt({ context: { 'aws:x-amz-cek-alg': vector.cekAlgorithm }, encryptedDataKeys: [edk] });
      expect(Buffer.from(dataKey!).toString('hex')).toBe(wrappingFile.dataKey);
    });
  }
});

describe('S3EC objects decrypt to their plaintext', () => {
  for (const vector of objectsFile.vectors) {
    it(vector.description, async () => {
      const envelope = parseS3ecEnvelope(vector.metadata, vector.instructionFile);
      const stored = b64(vector.body);
      // The content layer alone, with the known data key.
      expect(decryptBody(envelope, hex(vector.dataKey), stored).toString('base64')).toBe(vector.plaintext);
      if (envelope.wrapAlgorithm === 'kms+context') {
        expect(s3ecEncryptedDataKey(envelope)).toEqual({ providerId: 'aws-kms', keyId: '', ciphertext: envelope.wrappedKey });
        expect(s3ecDecryptionContext(envelope)).toEqual({ tenant: 'acme', 'aws:x-amz-cek-alg': '115' });
        return;
      }
      // The whole read: the keyring unwraps the stored key.
      const keyring = keyringFor(envelope.materialDescription, envelope.wrapAlgorithm);
      expect((await readObject(envelope, keyring, stored)).toString('base64')).toBe(vector.plaintext);
    });
  }
});

describe('S3EC V3 writing matches the independent encryption byte for byte', () => {
  const v3 = objectsFile.vectors.filter((vector) => vector.metadata['x-amz-c'] === '115' && vector.instructionFile === undefined);

  for (const vector of v3) {
    it(vector.description, () => {
      const { cipher, messageId, keyCommitment } = s3ecV3Encryptor(hex(vector.dataKey), b64(vector.metadata['x-amz-i']!));
      const plaintext = b64(vector.plaintext);
      const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      expect(body.toString('base64')).toBe(vector.body);
      expect(messageId.toString('base64')).toBe(vector.metadata['x-amz-i']);
      expect(keyCommitment.toString('base64')).toBe(vector.metadata['x-amz-d']);
    });
  }
});
