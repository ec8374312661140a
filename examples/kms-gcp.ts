// Google Cloud KMS: each object's data key is encrypted by a Cloud KMS symmetric CryptoKey, with the
// object's encryption context (bucket, key) as additional authenticated data and CRC32C checks on
// every request and answer. Role "Cloud KMS CryptoKey Encrypter/Decrypter" on the key.
//
// The client is a parameter. Without one, the keyring creates a KeyManagementServiceClient with
// Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth application-default
// login`, or the workload's service account), which is what main() does. Never turn on the Google
// client libraries' request logging in this process: it would log the data keys being wrapped.
//
// Run: S3_BUCKET=my-bucket GCP_KMS_KEY=projects/p/locations/europe-west1/keyRings/r/cryptoKeys/k node --import tsx examples/kms-gcp.ts
// (S3_ENDPOINT for MinIO or another S3-compatible store; credentials from the usual AWS variables.)
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { KeyManagementServiceClient } from '@google-cloud/kms';
import { pathToFileURL } from 'node:url';
import { EncryptingS3Client } from '@s3crypt/client';
import { GcpKmsKeyring } from '@s3crypt/kms-gcp';

export interface GcpExampleOptions {
  readonly bucket: string;
  /** projects/…/locations/…/keyRings/…/cryptoKeys/… (not a version: Cloud KMS uses the primary one). */
  readonly keyName: string;
  /** Your own client (endpoint, credentials); default: one with Application Default Credentials. */
  readonly client?: KeyManagementServiceClient;
}

export async function runGcpExample(s3: S3Client, options: GcpExampleOptions): Promise<{ readBack: string; firstBytes: string }> {
  const keyring = new GcpKmsKeyring({ keyName: options.keyName, ...(options.client ? { client: options.client } : {}) });
  const client = new EncryptingS3Client({ client: s3, keyring });

  await client.send(new PutObjectCommand({ Bucket: options.bucket, Key: 'kms-gcp/report.csv', Body: 'region,total\neu,120\nus,80\n' }));
  const whole = await client.send(new GetObjectCommand({ Bucket: options.bucket, Key: 'kms-gcp/report.csv' }));
  const range = await client.send(new GetObjectCommand({ Bucket: options.bucket, Key: 'kms-gcp/report.csv', Range: 'bytes=0-5' }));
  // After a key rotation (a new primary version), old objects keep decrypting; new ones use the new version.
  return { readBack: await whole.Body!.transformToString(), firstBytes: await range.Body!.transformToString() };
}

async function main(): Promise<void> {
  const { S3_BUCKET: bucket, GCP_KMS_KEY: keyName } = process.env;
  if (!bucket || !keyName) throw new Error('set S3_BUCKET and GCP_KMS_KEY');
  const s3 = new S3Client({ region: process.env.AWS_REGION ?? 'us-east-1', ...(process.env.S3_ENDPOINT ? { endpoint: process.env.S3_ENDPOINT, forcePathStyle: true } : {}) });
  const result = await runGcpExample(s3, { bucket, keyName });
  console.log(result.readBack);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
