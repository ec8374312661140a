// Key trust in an application: a writer that signs what it stores, a reader that pins the writer's
// key and the KEKs it trusts, a caller encryption context bound into each object, and the object
// identity kept by the application and demanded on read (rollback detection).
// test/examples.test.ts runs it against the test MinIO so it cannot go stale.
import { CreateBucketCommand, GetObjectCommand, PutBucketVersioningCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { EncryptingS3Client, RawAesKeyring, S3CryptError, s3cryptInfo, withS3Crypt } from '@s3crypt/client';

export interface KeyTrustResult {
  readonly objectId: string;
  readonly readBack: string;
  /** The error code a reader gets when the store serves an older write for the current one. */
  readonly rollbackRefusedWith: string;
  /** The error code a reader gets without the caller context the object was bound to. */
  readonly missingContextRefusedWith: string;
}

export async function runKeyTrust(s3: S3Client): Promise<KeyTrustResult> {
  // In production: the KEK in a KMS, the signing key in a secret store, the public key in config.
  const keyring = new RawAesKeyring({ keyName: 'invoices-2026', masterKey: randomBytes(32) });
  const signer = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const writer = new EncryptingS3Client({ client: s3, keyring, signingKey: signer.privateKey });
  const reader = new EncryptingS3Client({
    client: s3,
    keyring,
    keyPolicy: {
      trustedKeks: [{ providerId: 'raw-aes', keyId: 'invoices-2026' }],
      verificationKeys: [signer.publicKey],
      minFormatVersion: 2,
    },
  });
  const bucket = `s3crypt-key-trust-${Date.now()}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const encryptionContext = { tenant: 'acme', purpose: 'invoice' };

  const first = await writer.send(withS3Crypt(new PutObjectCommand({ Bucket: bucket, Key: 'invoice-17.json', Body: '{"total": 100}' }), { encryptionContext }));
  const second = await writer.send(withS3Crypt(new PutObjectCommand({ Bucket: bucket, Key: 'invoice-17.json', Body: '{"total": 120}' }), { encryptionContext }));
  const objectId = s3cryptInfo(second)!.objectId!; // the application stores this with its record

  const got = await reader.send(withS3Crypt(new GetObjectCommand({ Bucket: bucket, Key: 'invoice-17.json' }), { encryptionContext, expectedObjectId: objectId }));
  const readBack = await got.Body!.transformToString();

  // The first write is still a valid object of this key (here an older version in a versioned bucket;
  // a hostile store could serve it for the current one). Only the stored identity tells them apart.
  const rollbackRefusedWith = await codeOf(
    reader.send(withS3Crypt(new GetObjectCommand({ Bucket: bucket, Key: 'invoice-17.json', VersionId: first.VersionId }), { encryptionContext, expectedObjectId: objectId })),
  );
  const missingContextRefusedWith = await codeOf(reader.send(new GetObjectCommand({ Bucket: bucket, Key: 'invoice-17.json' })));
  return { objectId, readBack, rollbackRefusedWith, missingContextRefusedWith };
}

async function codeOf(pending: Promise<unknown>): Promise<string> {
  try {
    await pending;
    return 'accepted';
  } catch (error) {
    if (error instanceof S3CryptError) return error.code;
    throw error;
  }
}
