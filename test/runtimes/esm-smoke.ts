// Run by test/runtimes-esm.test.ts under Bun and Deno, never by vitest: it imports @s3crypt/client
// the way an application does (the package's ESM entry, dist/esm/index.js), not the sources vitest
// aliases. It decrypts the object Node wrote, then encrypts one for Node to decrypt.
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { EncryptingS3Client, RawAesKeyring } from '@s3crypt/client';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const bucket = required('SMOKE_BUCKET');
const masterKey = Buffer.from(required('SMOKE_MASTER_KEY'), 'hex');
const s3 = new EncryptingS3Client({
  client: new S3Client({
    endpoint: required('S3_ENDPOINT'),
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: required('S3_ACCESS_KEY_ID'), secretAccessKey: required('S3_SECRET_ACCESS_KEY') },
  }),
  keyring: new RawAesKeyring({ keyName: required('SMOKE_KEY_NAME'), masterKey }),
});

const written = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: required('SMOKE_READ_KEY') }));
const read = await written.Body!.transformToString();
await s3.send(new PutObjectCommand({ Bucket: bucket, Key: required('SMOKE_WRITE_KEY'), Body: required('SMOKE_WRITE_BODY') }));
masterKey.fill(0);
process.stdout.write(`${JSON.stringify({ read })}\n`);
