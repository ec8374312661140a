// Upload progress: lib-storage's `Upload` through an EncryptingS3Client, printing a progress line per
// part. What is reported:
// - `loaded` and `total` count PLAINTEXT bytes (what you passed in), not the larger ciphertext the
//   store receives, so a progress bar matches the file size the user sees.
// - `total` is known only when the body's length is: a Buffer, a string, or a stream you give a
//   length (here `size`). For a stream of unknown length it stays undefined.
// - In Node, an event is emitted when a part's bytes have been stored, so events are per part (every
//   `partSize` bytes), not per network write. A small last part (under 5 MiB) is uploaded together
//   with the object's trailer, so it is reported when that has been stored.
//
// Run: S3_BUCKET=my-bucket S3CRYPT_MASTER_KEY=$(openssl rand -base64 32) node --import tsx examples/upload-progress.ts some-file
// (S3_ENDPOINT for MinIO or another S3-compatible store; credentials from the usual AWS variables.)
import { S3Client } from '@aws-sdk/client-s3';
import { Upload, type Progress } from '@aws-sdk/lib-storage';
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { EncryptingS3Client, RawAesKeyring, type Keyring } from '@s3crypt/client';

export interface UploadTarget {
  readonly bucket: string;
  readonly key: string;
  /** Plaintext bytes, when known: lets the progress line show a percentage. */
  readonly size?: number;
}

/** Uploads `body` encrypted under `keyring`, printing one line per stored part; resolves the progress events seen. */
export async function uploadWithProgress(s3: S3Client, keyring: Keyring, target: UploadTarget, body: Readable | Uint8Array, print: (line: string) => void = console.log): Promise<Progress[]> {
  const client = new EncryptingS3Client({ client: s3, keyring });
  const upload = new Upload({
    client,
    // ContentLength of a stream is only a hint for lib-storage's `total`; it splits the body itself.
    params: { Bucket: target.bucket, Key: target.key, Body: body, ...(target.size !== undefined ? { ContentLength: target.size } : {}) },
    partSize: 5 * 1024 * 1024, // S3's minimum; memory use is about partSize × queueSize
    queueSize: 4,
  });
  const events: Progress[] = [];
  upload.on('httpUploadProgress', (progress) => {
    events.push(progress);
    const { loaded = 0, total } = progress;
    const percent = total ? ` (${Math.floor((loaded / total) * 100)}%)` : '';
    print(`${target.key}: part ${progress.part ?? '?'} stored, ${loaded}${total ? ` of ${total}` : ''} bytes${percent}`);
  });
  await upload.done();
  return events;
}

async function main(): Promise<void> {
  const [file] = process.argv.slice(2);
  const bucket = process.env.S3_BUCKET;
  const masterKey = Buffer.from(process.env.S3CRYPT_MASTER_KEY ?? '', 'base64');
  if (!file || !bucket || masterKey.length !== 32) throw new Error('usage: S3_BUCKET=… S3CRYPT_MASTER_KEY=<32 bytes, base64> upload-progress.ts <file>');
  const s3 = new S3Client({ region: process.env.AWS_REGION ?? 'us-east-1', ...(process.env.S3_ENDPOINT ? { endpoint: process.env.S3_ENDPOINT, forcePathStyle: true } : {}) });
  // In production the master key comes from a secret store, or use a KMS keyring (see examples/kms-*.ts).
  const keyring = new RawAesKeyring({ keyName: 'app-key', masterKey });
  await uploadWithProgress(s3, keyring, { bucket, key: basename(file), size: statSync(file).size }, createReadStream(file));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
