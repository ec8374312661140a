// The README's demo: an encrypted upload and download against a local MinIO with a local key.
// `bash scripts/demo.sh` starts a throwaway MinIO and runs main(); test/examples.test.ts runs
// runDemo() against the test MinIO so this file cannot go stale.
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { EncryptingS3Client, RawAesKeyring } from '@s3crypt/client';

export interface DemoResult {
  readonly bytes: number;
  readonly storedBytes: number;
  readonly markerFoundInStore: boolean;
  readonly roundTripOk: boolean;
}

/** Uploads a file-sized object encrypted, shows what the store holds, downloads and verifies it. */
export async function runDemo(s3: S3Client, log: (line: string) => void = console.log): Promise<DemoResult> {
  // A local 256-bit master key. In production it would come from a KMS or a secret store.
  const keyring = new RawAesKeyring({ keyName: 'demo-key', masterKey: randomBytes(32) });
  const client = new EncryptingS3Client({ client: s3, keyring });
  const bucket = `s3crypt-demo-${Date.now()}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));

  const marker = 'PATIENT-RECORD: Jane Doe, DOB 1970-01-01, diagnosis: confidential\n';
  const plaintext = Buffer.from(marker.repeat(Math.ceil((12 * 1024 * 1024) / marker.length)));
  const digest = (data: Buffer) => createHash('sha256').update(data).digest('hex');
  log(`uploading ${plaintext.length} bytes (sha256 ${digest(plaintext).slice(0, 16)}…) to s3://${bucket}/records.txt, encrypted`);
  await new Upload({ client, params: { Bucket: bucket, Key: 'records.txt', Body: Readable.from([plaintext]) }, partSize: 5 * 1024 * 1024, queueSize: 4 }).done();

  const raw = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'records.txt' }));
  const stored = Buffer.from(await raw.Body!.transformToByteArray());
  const markerFoundInStore = stored.includes(Buffer.from('PATIENT-RECORD'));
  log(`the store holds ${stored.length} bytes; first 32: ${stored.subarray(0, 32).toString('hex')}`);
  log(`plaintext marker visible in the store: ${markerFoundInStore ? 'YES (bad!)' : 'no'}`);
  log(`envelope metadata: x-amz-meta-s3crypt-envelope = ${raw.Metadata?.['s3crypt-envelope']?.slice(0, 48)}…`);

  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'records.txt' }));
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'records.txt' }));
  const decrypted = Buffer.from(await response.Body!.transformToByteArray());
  const roundTripOk = decrypted.equals(plaintext);
  log(`downloaded ${decrypted.length} bytes (HeadObject says ${head.ContentLength}); sha256 ${digest(decrypted).slice(0, 16)}… ${roundTripOk ? 'matches' : 'DOES NOT MATCH'}`);
  return { bytes: plaintext.length, storedBytes: stored.length, markerFoundInStore, roundTripOk };
}

async function main(): Promise<void> {
  // Imported here so the library example above does not depend on the test harness.
  const { startMinio, s3Client } = await import('../test/harness/minio.js');
  const { endpoint, server } = await startMinio();
  console.log(`MinIO running at ${endpoint.endpoint}`);
  try {
    const result = await runDemo(s3Client(endpoint));
    if (result.markerFoundInStore || !result.roundTripOk) process.exitCode = 1;
  } finally {
    await server.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
