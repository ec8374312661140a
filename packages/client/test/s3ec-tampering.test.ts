// Tampered S3EC objects fail with the right typed error and release no plaintext: a flipped key
// commitment or message id byte fails the commitment check (ERR_KEY_COMMITMENT_MISMATCH) before any
// content key exists; a flipped tag or body byte fails GCM; a flipped wrapped key byte, a wrapped key
// moved between format versions, or a rewritten content algorithm fails the unwrap (ERR_KEY_UNWRAP_FAILED).
import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DecryptionError, KeyringError } from '../src/errors.js';
import { s3ecContentCipher } from '../src/format/s3ec/content-cipher.js';
import { s3ecDecryptionContext, s3ecEncryptedDataKey } from '../src/format/s3ec/data-key.js';
import { parseS3ecEnvelope, type S3ecEnvelope } from '../src/format/s3ec/envelope.js';
import { S3ecAesKeyring } from '../src/keyrings/s3ec-aes.js';
import { S3ecRsaKeyring } from '../src/keyrings/s3ec-rsa.js';
import { b64, decryptBody, hex, objectsFile, readObject, wrappingFile, type ObjectVector } from './s3ec-helpers.js';

const aes = new S3ecAesKeyring({ wrappingKey: hex(wrappingFile.aesKek), materialDescription: { purpose: 'vectors', owner: 's3crypt' } });
const rsa = new S3ecRsaKeyring({ privateKey: createPrivateKey(wrappingFile.rsaPrivateKeyPem), materialDescription: { purpose: 'vectors' } });
const v3Aes = objectsFile.vectors.find((vector) => vector.description === 'V3, AES/GCM wrap in metadata, 1000 bytes') as ObjectVector;
const v3Rsa = objectsFile.vectors.find((vector) => vector.description.startsWith('V3, RSA-OAEP-SHA1 wrap in an instruction file, compact')) as ObjectVector;
const v2Gcm = objectsFile.vectors.find((vector) => vector.description === 'V2, AES/GCM/NoPadding content, AES/GCM wrap, 1000 bytes') as ObjectVector;

function flip(base64: string, index: number): string {
  const bytes = b64(base64);
  bytes[index % bytes.length]! ^= 0x01;
  return bytes.toString('base64');
}

async function failure(run: () => Promise<unknown> | unknown): Promise<{ error: unknown; code?: string }> {
  try {
    await run();
  } catch (error) {
    return { error, code: (error as { code?: string }).code };
  }
  throw new Error('the tampered object was read');
}

describe('S3EC tampering is detected with typed errors', () => {
  it('the untampered vectors read (the tests below can fail)', async () => {
    expect((await readObject(parseS3ecEnvelope(v3Aes.metadata), aes, b64(v3Aes.body))).toString('base64')).toBe(v3Aes.plaintext);
    expect((await readObject(parseS3ecEnvelope(v3Rsa.metadata, v3Rsa.instructionFile), rsa, b64(v3Rsa.body))).toString('base64')).toBe(v3Rsa.plaintext);
  });

  for (const [name, index] of [['x-amz-d', 0], ['x-amz-d', 27], ['x-amz-i', 0], ['x-amz-i', 13]] as const) {
    it(`a flipped ${name} byte ${index}: ERR_KEY_COMMITMENT_MISMATCH before any content key`, async () => {
      const envelope = parseS3ecEnvelope({ ...v3Aes.metadata, [name]: flip(v3Aes.metadata[name]!, index) });
      const { error, code } = await failure(() => readObject(envelope, aes, b64(v3Aes.body)));
      expect(error).toBeInstanceOf(DecryptionError);
      expect(code).toBe('ERR_KEY_COMMITMENT_MISMATCH');
      expect(() => s3ecContentCipher(envelope, hex(v3Aes.dataKey))).toThrow(DecryptionError);
    });
  }

  it('a data key from another object (a swapped wrapped key or instruction file): ERR_KEY_COMMITMENT_MISMATCH', async () => {
    const envelope = parseS3ecEnvelope(v3Aes.metadata);
    const { code } = await failure(() => decryptBody(envelope, hex(v3Rsa.dataKey), b64(v3Aes.body)));
    expect(code).toBe('ERR_KEY_COMMITMENT_MISMATCH');
  });

  for (const [label, vector] of [['V3', v3Aes], ['V2', v2Gcm]] as const) {
    it(`${label}: a flipped tag byte or body byte fails the GCM tag, and nothing is released`, async () => {
      const envelope = parseS3ecEnvelope(vector.metadata);
      const stored = b64(vector.body);
      for (const index of [stored.length - 1, stored.length - 16, 0, 500]) {
        const tampered = Buffer.from(stored);
        tampered[index]! ^= 0x80;
        let released: Buffer | undefined;
        const { error } = await failure(() => {
          released = decryptBody(envelope, hex(vector.dataKey), tampered);
        });
        expect(error).toBeInstanceOf(Error);
        expect(released).toBeUndefined();
      }
    });
  }

  it('a truncated body (tag cut off) fails', async () => {
    const envelope = parseS3ecEnvelope(v3Aes.metadata);
    await failure(() => decryptBody(envelope, hex(v3Aes.dataKey), b64(v3Aes.body).subarray(0, -1)));
  });

  for (const index of [0, 11, 12, 30, 59]) {
    it(`a flipped byte ${index} of an AES/GCM wrapped key (IV, ciphertext, tag): ERR_KEY_UNWRAP_FAILED`, async () => {
      const envelope = parseS3ecEnvelope({ ...v3Aes.metadata, 'x-amz-3': flip(v3Aes.metadata['x-amz-3']!, index) });
      const { error, code } = await failure(() => readObject(envelope, aes, b64(v3Aes.body)));
      expect(error).toBeInstanceOf(KeyringError);
      expect(code).toBe('ERR_KEY_UNWRAP_FAILED');
    });
  }

  it('a flipped byte of an RSA-OAEP-SHA1 wrapped key in the instruction file: ERR_KEY_UNWRAP_FAILED', async () => {
    const file = JSON.parse(v3Rsa.instructionFile!) as Record<string, string>;
    const envelope = parseS3ecEnvelope(v3Rsa.metadata, JSON.stringify({ ...file, 'x-amz-3': flip(file['x-amz-3']!, 100) }));
    expect((await failure(() => readObject(envelope, rsa, b64(v3Rsa.body)))).code).toBe('ERR_KEY_UNWRAP_FAILED');
  });

  it('a V3 wrapped key replayed into a V2 object fails its binding (AES/GCM AAD, RSA plaintext suffix)', async () => {
    const v2: S3ecEnvelope = { ...parseS3ecEnvelope(v2Gcm.metadata), wrappedKey: b64(v3Aes.metadata['x-amz-3']!), materialDescription: { purpose: 'vectors', owner: 's3crypt' } };
    expect((await failure(() => readObject(v2, aes, b64(v2Gcm.body)))).code).toBe('ERR_KEY_UNWRAP_FAILED');
    const file = JSON.parse(v3Rsa.instructionFile!) as Record<string, string>;
    const rsaEnvelope = parseS3ecEnvelope(v3Rsa.metadata, v3Rsa.instructionFile);
    const context = { ...s3ecDecryptionContext(rsaEnvelope), 'aws:x-amz-cek-alg': 'AES/GCM/NoPadding' };
    const edk = { ...s3ecEncryptedDataKey(rsaEnvelope), ciphertext: b64(file['x-amz-3']!) };
    expect((await failure(() => rsa.onDecrypt({ context, encryptedDataKeys: [edk] }))).code).toBe('ERR_KEY_UNWRAP_FAILED');
  });

  it('a rewritten material description is only a label: the format authenticates none, so the key still unwraps the same data key', async () => {
    const envelope = parseS3ecEnvelope({ ...v3Aes.metadata, 'x-amz-m': '{"purpose":"other"}' });
    const dataKey = await aes.onDecrypt({ context: s3ecDecryptionContext(envelope), encryptedDataKeys: [s3ecEncryptedDataKey(envelope)] });
    expect(Buffer.from(dataKey!).toString('hex')).toBe(v3Aes.dataKey);
  });

  it('a V2 GCM IV rewritten: the tag fails', async () => {
    const envelope = parseS3ecEnvelope({ ...v2Gcm.metadata, 'x-amz-iv': flip(v2Gcm.metadata['x-amz-iv']!, 3) });
    await failure(() => decryptBody(envelope, hex(v2Gcm.dataKey), b64(v2Gcm.body)));
  });
});
