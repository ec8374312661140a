// Child process of bench/run.ts: uploads `bytes` of generated data through EncryptingS3Client with
// lib-storage (or through the plain S3Client, with `plain`) and prints its peak RSS, so each size is measured in a fresh process.
import { Upload } from '@aws-sdk/lib-storage';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { EncryptingS3Client, RawAesKeyring } from '@s3crypt/client';
import { s3Client } from '../test/harness/minio.js';
import { generated } from './data.js';

const [endpoint, bucket, bytes, mode] = [process.argv[2]!, process.argv[3]!, Number(process.argv[4]), process.argv[5]];
const plain = s3Client({ endpoint, accessKeyId: 's3crypt-test', secretAccessKey: 's3crypt-test-secret' });
const client = mode === 'plain' ? plain : new EncryptingS3Client({ client: plain, keyring: new RawAesKeyring({ keyName: 'bench', masterKey: randomBytes(32) }) });
await new Upload({ client, params: { Bucket: bucket, Key: `rss-${bytes}`, Body: Readable.from(generated(bytes)) }, partSize: 8 * 1024 * 1024, queueSize: 4 }).done();
console.log(JSON.stringify({ bytes, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
