// Shared setup for integration tests: a plain S3 client on the test MinIO, and an EncryptingS3Client
// over it with a local raw AES key.
import { GetObjectCommand, type GetObjectCommandInput, type S3Client } from '@aws-sdk/client-s3';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { EncryptingS3Client, RawAesKeyring, type Keyring, type PlaintextReadSelection } from '@s3crypt/client';
import { freshBucket, s3Client } from './minio.js';

/**
 * `signed`: the client signs what it writes and pins its own signing key, as a deployment using
 * public-key (RSA) wrapping must for its objects to be accepted.
 */
export async function testClients(options: { keyring?: Keyring; allowPlaintextReads?: PlaintextReadSelection; signed?: boolean } = {}) {
  const plain = s3Client(inject('s3'));
  const keyring = options.keyring ?? new RawAesKeyring({ keyName: 'test-key', masterKey: randomBytes(32) });
  const signer = options.signed ? generateKeyPairSync('ec', { namedCurve: 'P-384' }) : undefined;
  const encrypting = new EncryptingS3Client({
    client: plain,
    keyring,
    ...(options.allowPlaintextReads ? { allowPlaintextReads: options.allowPlaintextReads } : {}),
    ...(signer ? { signingKey: signer.privateKey, keyPolicy: { verificationKeys: [signer.publicKey] } } : {}),
  });
  const bucket = await freshBucket(plain);
  return { plain, encrypting, keyring, bucket };
}

/** Deterministic pseudo-random bytes with a plaintext marker every 4 KiB, to search ciphertext for. */
export const MARKER = Buffer.from('S3CRYPT-PLAINTEXT-MARKER');
export function markedBytes(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  for (let offset = 0; offset + MARKER.length <= length; offset += 4096) MARKER.copy(out, offset);
  return out;
}

/** GETs an object through `client` (plain or encrypting) and collects its body. */
export async function getBody(client: S3Client, bucket: string, key: string, extra: Partial<GetObjectCommandInput> = {}): Promise<Buffer> {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...extra }));
  return Buffer.from(await response.Body!.transformToByteArray());
}
