// Shared checks of the KMS adapter integration tests.
import { CopyObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { expect } from 'vitest';
import type { EncryptingS3Client } from '@s3crypt/client';
import { getBody, MARKER, markedBytes } from './clients.js';
import { kmsRejection } from './kms-rejection.js';

/**
 * PutObject/GetObject and a 6 MiB lib-storage Upload (5 MiB parts, so a small last part) through an
 * encrypting client: the plaintext comes back, and the store never holds the plaintext marker.
 */
export async function expectS3RoundTrips(client: EncryptingS3Client, plain: S3Client, bucket: string): Promise<void> {
  const small = markedBytes(100_000, 1);
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'round-trip/put', Body: small }));
  const big = markedBytes(6 * 1024 * 1024, 2);
  await new Upload({ client, params: { Bucket: bucket, Key: 'round-trip/upload', Body: big }, partSize: 5 * 1024 * 1024 }).done();
  for (const [key, data] of [['round-trip/put', small], ['round-trip/upload', big]] as const) {
    expect((await getBody(plain, bucket, key)).includes(MARKER)).toBe(false);
    expect((await getBody(client, bucket, key)).equals(data)).toBe(true);
  }
}

/** An object copied behind the client's back (envelope and all) must not decrypt under its new key. */
export async function expectMovedEnvelopeRejected(client: EncryptingS3Client, plain: S3Client, bucket: string): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'moved/original', Body: 'secret' }));
  await plain.send(new CopyObjectCommand({ Bucket: bucket, Key: 'moved/copy', CopySource: `${bucket}/moved/original` }));
  const error = await kmsRejection(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'moved/copy' })));
  expect(error.code).toBe('ERR_KMS_WRONG_KEY');
}
