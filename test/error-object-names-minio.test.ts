// Errors say which object failed: through EncryptingS3Client against real MinIO (a versioned bucket,
// so the store reports version ids), a tampered object's error from send() and from the body stream,
// a key-policy refusal and a KMS failure all carry bucket, key and version id, and name the object
// (escaped) in their message exactly once.
import { CopyObjectCommand, GetObjectCommand, PutBucketVersioningCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { KMSClient } from '@aws-sdk/client-kms';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DecryptionError, EncryptingS3Client, KeyPolicyError, KmsError, S3CryptError, type Keyring } from '@s3crypt/client';
import { AwsKmsKeyring } from '@s3crypt/kms-aws';
import { markedBytes, testClients } from './harness/clients.js';
import { freePort } from './harness/process.js';

const KiB = 1024;

async function versionedClients() {
  const clients = await testClients();
  await clients.plain.send(new PutBucketVersioningCommand({ Bucket: clients.bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  return clients;
}

/** Stores `key` again through the plain client with one stored byte flipped, metadata kept; returns the new version id. */
async function tamper(plain: S3Client, bucket: string, key: string, offset: number): Promise<string> {
  const stored = await plain.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = Buffer.from(await stored.Body!.transformToByteArray());
  bytes[offset]! ^= 0x01;
  const put = await plain.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, Metadata: stored.Metadata }));
  return put.VersionId!;
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

function occurrences(text: string, part: string): number {
  return text.split(part).length - 1;
}


describe('errors name the object they concern', () => {
  it('a tampered small object: send() rejects with bucket, key and the version the store served, and the fixed wording plus the object', async () => {
    const { plain, encrypting, bucket } = await versionedClients();
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/small', Body: 'hello' }));
    const versionId = await tamper(plain, bucket, 'dir/small', 3);
    const error = await rejectionOf(encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/small' })));
    expect(error).toBeInstanceOf(DecryptionError);
    expect(error).toMatchObject({ code: 'ERR_DECRYPTION_FAILED', bucket, key: 'dir/small', versionId });
    expect(error.message).toBe(`decryption operation failed (object "s3://${bucket}/dir/small" version "${versionId}")`);
    expect(error.stack).toContain(error.message);
  });

  it('a tampered large object: the body stream errors with bucket, key and the version id the request named', async () => {
    const { plain, encrypting, bucket } = await versionedClients();
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'large', Body: markedBytes(600 * KiB) }));
    // The first segment lies outside the first 256 KiB fetched with the tail: it is opened while streaming.
    const versionId = await tamper(plain, bucket, 'large', 10);
    const response = await encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'large', VersionId: versionId }));
    const error = await rejectionOf(response.Body!.transformToByteArray());
    expect(error).toBeInstanceOf(DecryptionError);
    expect(error).toMatchObject({ code: 'ERR_DECRYPTION_FAILED', bucket, key: 'large', versionId });
    expect(error.message).toBe(`decryption operation failed (object "s3://${bucket}/large" version "${versionId}")`);
  });

  it('a copy of a tampered source names the source, not the destination', async () => {
    const { plain, encrypting, bucket } = await versionedClients();
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'source', Body: markedBytes(600 * KiB) }));
    const versionId = await tamper(plain, bucket, 'source', 10);
    const error = await rejectionOf(encrypting.send(new CopyObjectCommand({ Bucket: bucket, Key: 'destination', CopySource: `${bucket}/source` })));
    expect(error).toMatchObject({ code: 'ERR_DECRYPTION_FAILED', bucket, key: 'source', versionId });
  });

  it('a key-policy refusal carries the object, and a message that already names it does not name it twice', async () => {
    const { plain, encrypting, keyring, bucket } = await versionedClients();
    const put = await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'unsigned', Body: 'x' }));
    const pinned = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
    const reader = new EncryptingS3Client({ client: plain, keyring, keyPolicy: { verificationKeys: [pinned] } });
    const error = await rejectionOf(reader.send(new GetObjectCommand({ Bucket: bucket, Key: 'unsigned' })));
    expect(error).toBeInstanceOf(KeyPolicyError);
    expect(error).toMatchObject({ code: 'ERR_UNSIGNED_OBJECT', bucket, key: 'unsigned', versionId: put.VersionId });
    expect(occurrences(error.message, `"s3://${bucket}/unsigned"`)).toBe(1);
  });

  it('a KMS failure on PutObject carries the object (no version: none was named or stored) and the KMS error’s key', async () => {
    const { plain, bucket } = await versionedClients();
    const client = new KMSClient({
      endpoint: `http://127.0.0.1:${await freePort()}`,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
    });
    const keyId = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const writer = new EncryptingS3Client({ client: plain, keyring: new AwsKmsKeyring({ keyId, client }) as Keyring });
    const error = await rejectionOf(writer.send(new PutObjectCommand({ Bucket: bucket, Key: 'kms\u202e/odd', Body: randomBytes(10) })));
    expect(error).toBeInstanceOf(KmsError);
    expect(error).toMatchObject({ code: 'ERR_KMS_UNAVAILABLE', keyId, bucket, key: 'kms\u202e/odd' });
    expect(error.versionId).toBeUndefined();
    // The key is escaped in the message (a bidi override would reorder a log line).
    expect(error.message).toContain(`(object "s3://${bucket}/kms\\u{202e}/odd")`);
    expect(error.message).toContain('ECONNREFUSED');
  });
});
