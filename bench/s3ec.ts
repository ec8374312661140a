// npm run bench:s3ec (part of npm run bench): reading a 256 MiB AWS S3 Encryption Client V3 object
// through EncryptingS3Client — held in memory (singlePassLimit above its size), the safe streaming
// path (two passes: tag checked first, then each chunk released against its digest), and delayed
// authentication (one pass, tag checked at the end) — against the plain S3Client's GET of the same
// stored bytes, in the same run. Not a test; results go in docs/PERFORMANCE.md and docs/INTEROP.md.
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { EncryptingS3Client, S3ecAesKeyring, type S3ecOptions } from '@s3crypt/client';
import { s3ecV3Encryptor, s3ecV3Metadata, s3ecV3WriteContext } from '../packages/client/src/format/s3ec/v3-writer.js';
import { endpointFromEnv, s3Client, startMinio } from '../test/harness/minio.js';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.S3CRYPT_BENCH_S3EC_MIB ?? 256) * MiB;
const RUNS = 3;

async function drain(client: S3Client, bucket: string, key: string): Promise<number> {
  const start = performance.now();
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  let bytes = 0;
  for await (const chunk of out.Body as AsyncIterable<Buffer>) bytes += chunk.length;
  if (bytes !== SIZE && bytes !== SIZE + 16) throw new Error(`read ${bytes} bytes`);
  return performance.now() - start;
}

const existing = endpointFromEnv();
const minio = existing ? undefined : await startMinio();
const endpoint = existing ?? minio!.endpoint;
const rows: string[] = [];
try {
  const plain = s3Client(endpoint);
  const bucket = `bench-s3ec-${Date.now()}`;
  await plain.send(new CreateBucketCommand({ Bucket: bucket }));
  // The object as an official V4 client writes it with an AES/GCM-wrapped key.
  const keyring = new S3ecAesKeyring({ wrappingKey: randomBytes(32) });
  const context = s3ecV3WriteContext();
  const { dataKey, encryptedDataKeys } = await keyring.onEncrypt({ context });
  const encryptor = s3ecV3Encryptor(dataKey);
  const plaintext = randomBytes(SIZE);
  const body = Buffer.concat([encryptor.cipher.update(plaintext), encryptor.cipher.final(), encryptor.cipher.getAuthTag()]);
  const { metadata } = s3ecV3Metadata({ messageId: encryptor.messageId, keyCommitment: encryptor.keyCommitment, encryptedDataKey: encryptedDataKeys[0]!, context });
  await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'v3', Body: body, Metadata: metadata }));
  const modes: [string, S3ecOptions][] = [
    ['in memory (one pass, whole object held)', { singlePassLimit: SIZE + MiB }],
    ['streamed, two passes (default, nothing unauthenticated released)', { singlePassLimit: 0 }],
    ['streamed, delayed authentication (one pass)', { singlePassLimit: 0, delayedAuthentication: true }],
  ];
  const best = async (read: () => Promise<number>) => {
    let ms = Infinity;
    for (let i = 0; i < RUNS; i++) ms = Math.min(ms, await read());
    return ms;
  };
  const plainMs = await best(() => drain(plain, bucket, 'v3'));
  const rate = (ms: number) => `${(SIZE / MiB / (ms / 1000)).toFixed(0)} MiB/s`;
  rows.push(`| plain S3Client GET (ciphertext) | ${rate(plainMs)} | 100% |`);
  for (const [name, s3ec] of modes) {
    const client = new EncryptingS3Client({ client: plain, keyring, s3ec });
    const ms = await best(() => drain(client, bucket, 'v3'));
    rows.push(`| ${name} | ${rate(ms)} | ${((plainMs / ms) * 100).toFixed(0)}% |`);
  }
} finally {
  await minio?.server.stop();
}
console.log(`\nGET of a ${SIZE / MiB} MiB S3EC V3 object (node ${process.version}, best of ${RUNS})\n`);
console.log('| reader | throughput | vs plain |\n|---|---|---|');
for (const row of rows) console.log(row);
