// s3crypt from CommonJS: `require` loads each package's CommonJS build (dist/cjs), with the same
// API and types as the ESM one. An encrypted write, a whole and a ranged read, and a typed error.
//
// Run: S3_BUCKET=my-bucket S3CRYPT_MASTER_KEY=$(openssl rand -base64 32) node examples/commonjs.cjs
// (S3_ENDPOINT for MinIO or another S3-compatible store; credentials from the usual AWS variables.
// In this repository, `npm run build` first: the packages resolve to their built dist/.)
/* global require, process, console, Buffer */
/* eslint-disable @typescript-eslint/no-require-imports */
const { S3Client, PutObjectCommand, GetObjectCommand } = require('@aws-sdk/client-s3');
const { randomBytes } = require('node:crypto');
const { EncryptingS3Client, RawAesKeyring, S3CryptError } = require('@s3crypt/client');

async function main() {
  const bucket = process.env.S3_BUCKET;
  const masterKey = Buffer.from(process.env.S3CRYPT_MASTER_KEY || '', 'base64');
  if (!bucket || masterKey.length !== 32) throw new Error('set S3_BUCKET and S3CRYPT_MASTER_KEY (32 bytes, base64)');
  const s3 = new S3Client({
    region: process.env.AWS_REGION || 'us-east-1',
    ...(process.env.S3_ENDPOINT ? { endpoint: process.env.S3_ENDPOINT, forcePathStyle: true } : {}),
  });
  const client = new EncryptingS3Client({ client: s3, keyring: new RawAesKeyring({ keyName: 'app-key', masterKey }) });
  console.log(`@s3crypt/client loaded from ${require.resolve('@s3crypt/client')}`);

  const text = 'hello from CommonJS';
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'commonjs/hello.txt', Body: text }));
  const whole = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'commonjs/hello.txt' }));
  console.log(`read back: ${await whole.Body.transformToString()}`);
  const range = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'commonjs/hello.txt', Range: 'bytes=0-4' }));
  console.log(`bytes 0-4: ${await range.Body.transformToString()}`);

  // Errors are S3CryptErrors with a stable code, in CommonJS as in ESM.
  const stranger = new EncryptingS3Client({ client: s3, keyring: new RawAesKeyring({ keyName: 'another-key', masterKey: randomBytes(32) }) });
  try {
    await stranger.send(new GetObjectCommand({ Bucket: bucket, Key: 'commonjs/hello.txt' }));
  } catch (error) {
    if (!(error instanceof S3CryptError)) throw error;
    console.log(`another key: ${error.code}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
