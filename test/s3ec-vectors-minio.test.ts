// The S3EC object vectors (packages/client/test/vectors/s3ec-objects.json, computed independently
// with Python `cryptography` from the specification) stored on MinIO as an official client would
// store them — body, user metadata, instruction file — and read through EncryptingS3Client with the
// S3EC raw keyrings: the AES/GCM and RSA-OAEP-SHA1 wrappings (no Python writer exists for them), the
// legacy wrappings and CBC content behind their switches, and instruction files in three JSON layouts.
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { EncryptingS3Client, MultiKeyring, RawAesKeyring, rotateKeys, S3CryptError, S3ecAesKeyring, S3ecRsaKeyring, type S3ecOptions } from '@s3crypt/client';
import { randomBytes } from 'node:crypto';
import { freshBucket, s3Client } from './harness/minio.js';

interface ObjectVector {
  readonly description: string;
  readonly metadata: Record<string, string>;
  readonly instructionFile?: string;
  readonly body: string;
  readonly plaintext: string;
}

const vectorsDir = new URL('../packages/client/test/vectors/', import.meta.url);
const objects = (JSON.parse(readFileSync(new URL('s3ec-objects.json', vectorsDir), 'utf8')) as { vectors: ObjectVector[] }).vectors;
const keys = JSON.parse(readFileSync(new URL('s3ec-wrapping.json', vectorsDir), 'utf8')) as { aesKek: string; rsaPrivateKeyPem: string };

let plain: S3Client;
let bucket: string;

function client(s3ec: S3ecOptions, legacyWrappings = false): EncryptingS3Client {
  const legacy = legacyWrappings ? { enableLegacyWrappingAlgorithms: true } : {};
  const keyring = new MultiKeyring({
    generator: new S3ecAesKeyring({ wrappingKey: Buffer.from(keys.aesKek, 'hex'), ...legacy }),
    decryptOnly: [new S3ecRsaKeyring({ privateKey: keys.rsaPrivateKeyPem, ...legacy })],
  });
  // Raw RSA wrapping is public-key wrapping: anyone with the public key could have written these objects.
  return new EncryptingS3Client({ client: plain, keyring, s3ec, keyPolicy: { acceptUnsignedPublicKeyWrapping: true } });
}

const keyOf = (index: number) => `vectors/${index}`;
const isLegacy = (v: ObjectVector) => /CBC|legacy|AES\/ECB|OAEPWithSHA-256/.test(v.description);
const isKms = (v: ObjectVector) => v.description.includes('kms+context');

beforeAll(async () => {
  plain = s3Client(inject('s3'));
  bucket = await freshBucket(plain, 's3ec-vectors');
  for (const [index, vector] of objects.entries()) {
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: keyOf(index), Body: Buffer.from(vector.body, 'base64'), Metadata: vector.metadata }));
    if (vector.instructionFile !== undefined) {
      await plain.send(new PutObjectCommand({ Bucket: bucket, Key: `${keyOf(index)}.instruction`, Body: vector.instructionFile, Metadata: { 'x-amz-crypto-instr-file': '' } }));
    }
  }
});

describe('S3EC vector objects read from MinIO through EncryptingS3Client', () => {
  it('V3 and V2 objects with AES/GCM and RSA-OAEP-SHA1 wrappings, in metadata or instruction files', async () => {
    const reader = client({ commitmentPolicy: 'require-encrypt-allow-decrypt' });
    let read = 0;
    for (const [index, vector] of objects.entries()) {
      if (isLegacy(vector) || isKms(vector)) continue;
      const out = await reader.send(new GetObjectCommand({ Bucket: bucket, Key: keyOf(index) }));
      expect(Buffer.from(await out.Body!.transformToByteArray()).equals(Buffer.from(vector.plaintext, 'base64')), vector.description).toBe(true);
      const head = await reader.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(index) }));
      expect(head.ContentLength, vector.description).toBe(Buffer.from(vector.plaintext, 'base64').length);
      read++;
    }
    expect(read).toBeGreaterThanOrEqual(12);
  });

  it('legacy CBC content and legacy wrappings only with both switches', async () => {
    const legacyVectors = [...objects.entries()].filter(([, vector]) => isLegacy(vector));
    expect(legacyVectors.length).toBeGreaterThanOrEqual(4);
    const strict = client({ commitmentPolicy: 'require-encrypt-allow-decrypt' }, true);
    const legacy = client({ commitmentPolicy: 'require-encrypt-allow-decrypt', legacyUnauthenticatedModes: true }, true);
    for (const [index, vector] of legacyVectors) {
      const refused = await strict.send(new GetObjectCommand({ Bucket: bucket, Key: keyOf(index) })).then(
        () => 'read',
        (error: S3CryptError) => error.code,
      );
      expect(refused, vector.description).toBe('ERR_FORMAT_VERSION_NOT_ALLOWED');
      const out = await legacy.send(new GetObjectCommand({ Bucket: bucket, Key: keyOf(index) }));
      expect(Buffer.from(await out.Body!.transformToByteArray()).equals(Buffer.from(vector.plaintext, 'base64')), vector.description).toBe(true);
      const head = await legacy.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(index) }));
      expect(head.ContentLength, vector.description).toBe(Buffer.from(vector.plaintext, 'base64').length);
    }
  });

  it('RSA-wrapped objects are public-key wrapping: refused under the default key policy', async () => {
    const index = objects.findIndex((vector) => vector.description.startsWith('V3, RSA-OAEP-SHA1'));
    const strictPolicy = new EncryptingS3Client({ client: plain, keyring: new S3ecRsaKeyring({ privateKey: keys.rsaPrivateKeyPem }), s3ec: {} });
    const code = await strictPolicy.send(new GetObjectCommand({ Bucket: bucket, Key: keyOf(index) })).then(
      () => 'read',
      (error: S3CryptError) => error.code,
    );
    expect(code).toBe('ERR_UNSIGNED_OBJECT');
  });

  it('a plaintext migration never encrypts S3EC objects or their instruction files, even objects with all their metadata in one', async () => {
    const s3crypt = new RawAesKeyring({ keyName: 'migration', masterKey: randomBytes(32) });
    const migrating = new EncryptingS3Client({ client: plain, keyring: s3crypt, s3ec: { commitmentPolicy: 'require-encrypt-allow-decrypt' } });
    const summary = await rotateKeys(migrating, { bucket, prefix: 'vectors/', to: s3crypt, migratePlaintext: true });
    const instructionFiles = objects.filter((vector) => vector.instructionFile !== undefined).length;
    expect(summary).toMatchObject({ rotated: 0, failed: 0, skippedBy: { 's3ec-object': objects.length + instructionFiles } });
    // Still readable as the official clients wrote them.
    const index = objects.findIndex((vector) => Object.keys(vector.metadata).length === 0);
    expect(index).toBeGreaterThanOrEqual(0);
    const out = await client({ commitmentPolicy: 'require-encrypt-allow-decrypt' }).send(new GetObjectCommand({ Bucket: bucket, Key: keyOf(index) }));
    expect(Buffer.from(await out.Body!.transformToByteArray()).equals(Buffer.from(objects[index]!.plaintext, 'base64'))).toBe(true);
  });
});
