// Object inspection on the real MinIO: describeObject (keyless: what s3crypt, S3 Encryption Client and
// plaintext objects claim), verifyObject (every stored byte authenticated, nothing returned) and
// verifyObjects over a prefix (a summary naming the tampered object, a checkpoint that stops before it).
import { GetObjectCommand, HeadObjectCommand, PutBucketVersioningCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { randomBytes } from 'node:crypto';
import {
  DecryptionError,
  EncryptingS3Client,
  RawAesKeyring,
  S3CryptError,
  callbackSink,
  describeObject,
  s3cryptInfo,
  verifyObject,
  verifyObjects,
  type AuditEvent,
  type ObjectDescription,
  type S3CryptObjectDescription,
  type VerificationProgress,
} from '@s3crypt/client';
import { describe, expect, it } from 'vitest';
import { markedBytes, testClients } from './harness/clients.js';

const MiB = 1024 * 1024;
const KEK = { providerId: 'raw-aes', keyId: 'test-key' };

/** Stores `key` again through the plain client with `change` applied to its stored bytes, metadata kept. */
async function tamper(plain: S3Client, bucket: string, key: string, change: (bytes: Buffer) => void): Promise<void> {
  const stored = await plain.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = Buffer.from(await stored.Body!.transformToByteArray());
  change(bytes);
  await plain.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, Metadata: stored.Metadata }));
}

function rejectionOf(promise: Promise<unknown>): Promise<S3CryptError> {
  return promise.then(
    () => expect.unreachable('the operation succeeded'),
    (error: unknown) => {
      expect(error).toBeInstanceOf(S3CryptError);
      return error as S3CryptError;
    },
  );
}

function s3crypt(description: ObjectDescription): S3CryptObjectDescription {
  expect(description.format).toBe('s3crypt');
  return description as S3CryptObjectDescription;
}

describe('describeObject on MinIO', () => {
  it('a single PUT: what the envelope and trailer claim, with the identity the write returned', async () => {
    const { plain, encrypting, bucket } = await testClients();
    const put = await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'one', Body: markedBytes(300_000) }));
    const head = await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: 'one' }));
    const described = s3crypt(await describeObject(plain, { Bucket: bucket, Key: 'one' }));
    expect(described).toMatchObject({
      bucket,
      key: 'one',
      etag: head.ETag,
      storedLength: head.ContentLength,
      authenticated: false,
      formatVersion: 2,
      suite: { id: 1 },
      segmentSize: 256 * 1024,
      signed: false,
      keks: [{ ...KEK, wrappedKeyLength: expect.any(Number) }],
      parts: 1,
      plaintextLength: 300_000,
      objectId: s3cryptInfo(put)!.objectId,
    });
    // Through the encrypting client (its store client) the same, and no key is needed.
    expect(await describeObject(encrypting, { Bucket: bucket, Key: 'one' })).toEqual(described);
  });

  it('a multipart upload (lib-storage Upload), and an empty s3crypt object', async () => {
    const { encrypting, bucket } = await testClients();
    const done = await new Upload({ client: encrypting, params: { Bucket: bucket, Key: 'big', Body: markedBytes(11 * MiB) }, partSize: 5 * MiB }).done();
    expect(s3crypt(await describeObject(encrypting, { Bucket: bucket, Key: 'big' }))).toMatchObject({ parts: 3, plaintextLength: 11 * MiB, objectId: s3cryptInfo(done)!.objectId });
    const empty = await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'empty', Body: '' }));
    expect(s3crypt(await describeObject(encrypting, { Bucket: bucket, Key: 'empty' }))).toMatchObject({ parts: 1, plaintextLength: 0, objectId: s3cryptInfo(empty)!.objectId });
  });

  it('plaintext objects, empty or not', async () => {
    const { plain, bucket } = await testClients();
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: 'hello' }));
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'nothing', Body: '' }));
    expect(await describeObject(plain, { Bucket: bucket, Key: 'plain' })).toMatchObject({ format: 'plaintext', storedLength: 5, plaintextLength: 5, keks: [] });
    expect(await describeObject(plain, { Bucket: bucket, Key: 'nothing' })).toMatchObject({ format: 'plaintext', storedLength: 0, plaintextLength: 0 });
  });

  it('S3 Encryption Client objects (V2 and V3 metadata, one with an instruction file), recognised not decrypted', async () => {
    const { plain, bucket } = await testClients();
    const b64 = (length: number) => randomBytes(length).toString('base64');
    const v2 = {
      'x-amz-key-v2': b64(184),
      'x-amz-iv': b64(12),
      'x-amz-matdesc': '{"aws:x-amz-cek-alg":"AES/GCM/NoPadding"}',
      'x-amz-wrap-alg': 'kms+context',
      'x-amz-cek-alg': 'AES/GCM/NoPadding',
      'x-amz-tag-len': '128',
      'x-amz-unencrypted-content-length': '1000',
    };
    const v3 = { 'x-amz-c': '115', 'x-amz-3': b64(60), 'x-amz-w': '12', 'x-amz-t': '{"tenant":"acme"}', 'x-amz-d': b64(28), 'x-amz-i': b64(28) };
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 's3ec-v2', Body: randomBytes(1016), Metadata: v2 }));
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 's3ec-v3', Body: randomBytes(516), Metadata: v3 }));
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 's3ec-v3-instr', Body: randomBytes(66), Metadata: { 'x-amz-c': '115', 'x-amz-d': b64(28), 'x-amz-i': b64(28) } }));
    expect(await describeObject(plain, { Bucket: bucket, Key: 's3ec-v2' })).toEqual({
      bucket,
      key: 's3ec-v2',
      etag: expect.any(String),
      lastModified: expect.any(Date),
      storedLength: 1016,
      authenticated: false,
      format: 's3ec',
      formatVersion: 2,
      contentAlgorithm: 'AES/GCM/NoPadding',
      wrapAlgorithm: 'kms+context',
      materialDescription: { 'aws:x-amz-cek-alg': 'AES/GCM/NoPadding' },
      instructionFile: false,
      keks: [],
      plaintextLength: 1000,
    });
    expect(await describeObject(plain, { Bucket: bucket, Key: 's3ec-v3' })).toMatchObject({
      format: 's3ec',
      formatVersion: 3,
      contentAlgorithm: 'ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY',
      wrapAlgorithm: 'kms+context',
      encryptionContext: { tenant: 'acme' },
      instructionFile: false,
      plaintextLength: 500,
    });
    expect(await describeObject(plain, { Bucket: bucket, Key: 's3ec-v3-instr' })).toMatchObject({ format: 's3ec', formatVersion: 3, instructionFile: true, plaintextLength: 50 });
    const broken = await rejectionOf(describeObject(plain, { Bucket: bucket, Key: 's3ec-v2' }).then(async () => {
      await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 's3ec-bad', Body: 'x', Metadata: { ...v2, 'x-amz-wrap-alg': 'rot13' } }));
      return describeObject(plain, { Bucket: bucket, Key: 's3ec-bad' });
    }));
    expect(broken.code).toBe('ERR_ENVELOPE_MALFORMED');
    expect(broken.key).toBe('s3ec-bad');
  });

  it("a missing key or version fails with the store's own error", async () => {
    const { plain, bucket } = await testClients();
    await expect(describeObject(plain, { Bucket: bucket, Key: 'missing' })).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  it('a tampered trailer fails with a typed error naming the object; a version is described as stored', async () => {
    const { plain, encrypting, bucket } = await testClients();
    await plain.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const first = await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'version one' }));
    await tamper(plain, bucket, 'k', (bytes) => bytes.writeUInt32BE(5, bytes.length - 4));
    const error = await rejectionOf(describeObject(plain, { Bucket: bucket, Key: 'k' }));
    expect(error).toBeInstanceOf(DecryptionError);
    expect(error.code).toMatch(/^ERR_OBJECT_(TRUNCATED|MALFORMED)$/);
    expect(error.message).toContain(`s3://${bucket}/k`);
    const older = s3crypt(await describeObject(plain, { Bucket: bucket, Key: 'k', VersionId: first.VersionId! }));
    expect(older).toMatchObject({ versionId: first.VersionId, plaintextLength: 11, objectId: s3cryptInfo(first)!.objectId });
  });
});

describe('verifyObject on MinIO', () => {
  it('an intact object: its authenticated facts, the events of a read', async () => {
    const { plain, bucket } = await testClients();
    const keyring = new RawAesKeyring({ keyName: 'test-key', masterKey: randomBytes(32) });
    const events: AuditEvent[] = [];
    const client = new EncryptingS3Client({ client: plain, keyring, audit: { sink: callbackSink((event) => void events.push(event)) } });
    const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: markedBytes(600_000) }));
    const head = await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
    events.length = 0;
    expect(await verifyObject(client, { Bucket: bucket, Key: 'k' })).toEqual({
      encrypted: true,
      formatVersion: 2,
      objectId: s3cryptInfo(put)!.objectId,
      plaintextLength: 600_000,
      storedLength: head.ContentLength,
      etag: head.ETag,
      versionId: undefined,
      keks: [KEK],
    });
    await client.flushAudit();
    expect(events).toEqual([expect.objectContaining({ operation: 'unwrap', outcome: 'success', command: 'VerifyObject', key: 'k', objectId: s3cryptInfo(put)!.objectId, keks: [KEK] })]);
  });

  it('one flipped byte anywhere in the body: ERR_DECRYPTION_FAILED, naming the object', async () => {
    const { plain, encrypting, bucket } = await testClients();
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'small', Body: markedBytes(1000) }));
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'large', Body: markedBytes(900_000) }));
    await tamper(plain, bucket, 'small', (bytes) => void (bytes[10]! ^= 1));
    // Far from the tail the first request fetches: found while the body streams.
    await tamper(plain, bucket, 'large', (bytes) => void (bytes[100]! ^= 1));
    for (const key of ['small', 'large']) {
      const error = await rejectionOf(verifyObject(encrypting, { Bucket: bucket, Key: key }));
      expect(error).toBeInstanceOf(DecryptionError);
      expect(error.code).toBe('ERR_DECRYPTION_FAILED');
      expect(error.key).toBe(key);
    }
  });

  it('a keyring that cannot open the object, and plaintext inside or outside the plaintext selection', async () => {
    const { plain, encrypting, bucket } = await testClients();
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'secret' }));
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'legacy/p', Body: 'plain' }));
    const sameNameOtherKey = new EncryptingS3Client({ client: plain, keyring: new RawAesKeyring({ keyName: 'test-key', masterKey: randomBytes(32) }) });
    const otherName = new EncryptingS3Client({ client: plain, keyring: new RawAesKeyring({ keyName: 'other-key', masterKey: randomBytes(32) }) });
    expect((await rejectionOf(verifyObject(sameNameOtherKey, { Bucket: bucket, Key: 'k' }))).code).toMatch(/^ERR_(NO_MATCHING_KEY|KEY_UNWRAP_FAILED)$/);
    expect((await rejectionOf(verifyObject(otherName, { Bucket: bucket, Key: 'k' }))).code).toBe('ERR_KEY_NOT_ALLOWED');
    expect((await rejectionOf(verifyObject(encrypting, { Bucket: bucket, Key: 'legacy/p' }))).code).toBe('ERR_NOT_ENCRYPTED');
    const migrating = new EncryptingS3Client({ client: plain, keyring: new RawAesKeyring({ keyName: 'x', masterKey: randomBytes(32) }), allowPlaintextReads: [{ bucket, prefix: 'legacy/' }] });
    expect(await verifyObject(migrating, { Bucket: bucket, Key: 'legacy/p' })).toEqual({ encrypted: false, etag: expect.any(String) });
    await expect(verifyObject(encrypting, { Bucket: bucket, Key: 'missing' })).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  it('an object under a client-side customer key: verified with that key only', async () => {
    const { encrypting, bucket } = await testClients();
    const sseC = (key: Buffer) => ({ SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.toString('base64') });
    const [key, other] = [randomBytes(32), randomBytes(32)];
    const put = await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'c', Body: 'customer data', ...sseC(key) }));
    expect(await verifyObject(encrypting, { Bucket: bucket, Key: 'c', ...sseC(key) })).toMatchObject({ encrypted: true, objectId: s3cryptInfo(put)!.objectId });
    expect((await rejectionOf(verifyObject(encrypting, { Bucket: bucket, Key: 'c' }))).code).toBe('ERR_CUSTOMER_KEY_REQUIRED');
    expect((await rejectionOf(verifyObject(encrypting, { Bucket: bucket, Key: 'c', ...sseC(other) }))).code).toBe('ERR_CUSTOMER_KEY_MISMATCH');
  });
});

describe('verifyObjects on MinIO', () => {
  it('a prefix with one tampered object: the summary names it, the checkpoint stops before it, a rerun resumes there', async () => {
    const { plain, encrypting, bucket } = await testClients();
    const keys = ['batch/a', 'batch/b', 'batch/c', 'batch/d', 'batch/e'];
    for (const key of [...keys, 'other/x']) await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: markedBytes(5000) }));
    await tamper(plain, bucket, 'batch/c', (bytes) => void (bytes[0]! ^= 1));
    await tamper(plain, bucket, 'other/x', (bytes) => void (bytes[0]! ^= 1));
    const progress: VerificationProgress[] = [];
    const summary = await verifyObjects(encrypting, { bucket, prefix: 'batch/', concurrency: 2, onProgress: (p) => progress.push(p) });
    expect(summary).toEqual({
      verified: 4,
      plaintext: 0,
      failed: 1,
      failures: [{ bucket, key: 'batch/c', reason: { code: 'ERR_DECRYPTION_FAILED', message: expect.stringContaining(`s3://${bucket}/batch/c`), retryable: false } }],
      resumeAfter: 'batch/b',
    });
    expect(progress.map((p) => p.result.key).sort()).toEqual(keys);
    expect(progress.at(-1)).toMatchObject({ done: 5, verified: 4, failed: 1 });
    // The rerun starts at the tampered object, which fails again: no checkpoint past the old one.
    const rerun = await verifyObjects(encrypting, { bucket, prefix: 'batch/', startAfter: summary.resumeAfter! });
    expect(rerun).toMatchObject({ verified: 2, failed: 1, resumeAfter: undefined });
    expect(rerun.failures.map((f) => f.key)).toEqual(['batch/c']);
  });

  it('counts plaintext the client may read, refuses bad options', async () => {
    const { plain, bucket } = await testClients();
    const client = new EncryptingS3Client({ client: plain, keyring: new RawAesKeyring({ keyName: 'k', masterKey: randomBytes(32) }), allowPlaintextReads: [{ bucket }] });
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'enc', Body: 'x' }));
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: 'y' }));
    expect(await verifyObjects(client, { bucket })).toEqual({ verified: 1, plaintext: 1, failed: 0, failures: [], resumeAfter: 'plain' });
    await expect(verifyObjects(client, { bucket, concurrency: 0 })).rejects.toThrow(TypeError);
    await expect(verifyObjects(plain as EncryptingS3Client, { bucket })).rejects.toThrow('verifyObjects: client must be an EncryptingS3Client');
  });
});
