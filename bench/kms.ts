// npm run bench:kms (also part of npm run bench): what the hierarchical keyring saves, against the
// real test servers (MinIO, OpenBao Transit as the KMS). A counting wrapper around the KMS keyring
// counts every KMS request: per 10,000 objects written and per 10,000 read through the hierarchy
// (target ≤ 1 each with a warm cache), per 10,000 repeated reads through the caching keyring, and
// PUT/GET latency of 4 KiB objects against the plain S3Client and against the KMS keyring used
// directly. Not a test: it asserts nothing.
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { CachingKeyring, EncryptingS3Client, RawAesKeyring, type DecryptRequest, type EncryptRequest, type Keyring } from '@s3crypt/client';
import { BranchKeyStore, HierarchicalKeyring } from '@s3crypt/hierarchical-keyring';
import { VaultTransitKeyring } from '@s3crypt/kms-vault';
import { endpointFromEnv, s3Client, startMinio } from '../test/harness/minio.js';
import { openBaoWithTransit } from '../test/harness/openbao.js';

const OBJECTS = 10_000;
const CONCURRENCY = 16;
const LATENCY_N = 200;
const rows: string[][] = [];

class CountingKeyring implements Keyring {
  calls = 0;
  constructor(private readonly inner: Keyring) {}
  onEncrypt(request: EncryptRequest) {
    this.calls++;
    return this.inner.onEncrypt(request);
  }
  onDecrypt(request: DecryptRequest) {
    this.calls++;
    return this.inner.onDecrypt(request);
  }
  kekMatchers() {
    return this.inner.kekMatchers?.();
  }
}

async function drain(body: unknown): Promise<number> {
  let bytes = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) bytes += chunk.length;
  return bytes;
}

/** Runs `task(i)` for i in [0, count) with `CONCURRENCY` in flight. */
async function pool(count: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) await task(next++);
  }));
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** Best of `runs` for each client, interleaved so drift hits all of them. */
async function compare(runs: number, fns: (() => Promise<unknown>)[]): Promise<number[]> {
  const best = fns.map(() => Infinity);
  for (let run = 0; run < runs; run++) {
    for (const [i, fn] of fns.entries()) best[i] = Math.min(best[i]!, await timeAsync(fn));
  }
  return best;
}

const existingS3 = endpointFromEnv();
const minio = existingS3 ? undefined : await startMinio();
const endpoint = existingS3 ?? minio!.endpoint;
const bao = await openBaoWithTransit();
try {
  const keyName = `bench-${Date.now().toString(36)}`;
  await bao.api('POST', `transit/keys/${keyName}`, { type: 'aes256-gcm96' });
  const kms = new CountingKeyring(new VaultTransitKeyring({ keyName, endpoint: bao.endpoint, token: bao.rootToken }));

  const plain: S3Client = s3Client(endpoint);
  const bucket = `bench-kms-${Date.now()}`;
  await plain.send(new CreateBucketCommand({ Bucket: bucket }));
  const keyStore = new BranchKeyStore({ client: s3Client(endpoint), bucket, prefix: 'key-store/', name: 'bench', protector: kms });
  await keyStore.createBranchKey('bench');
  const hierarchical = () => new HierarchicalKeyring({ keyStore, branchKeyId: 'bench', cacheTtlMs: 10 * 60_000 });
  const small = randomBytes(4096);

  // KMS requests per 10,000 objects, each through a fresh keyring (so its one cold load counts).
  const writer = new EncryptingS3Client({ client: s3Client(endpoint), keyring: hierarchical() });
  let before = kms.calls;
  const writeMs = await timeAsync(() => pool(OBJECTS, (i) => writer.send(new PutObjectCommand({ Bucket: bucket, Key: `h/${i}`, Body: small }))));
  rows.push([`KMS requests, ${OBJECTS.toLocaleString('en')} PUTs (hierarchical, fresh keyring, ${CONCURRENCY} concurrent)`, `${OBJECTS.toLocaleString('en')} (1 per object)`, String(kms.calls - before), `${(writeMs / 1000).toFixed(1)} s`, '≤ 1']);
  const reader = new EncryptingS3Client({ client: s3Client(endpoint), keyring: hierarchical() });
  before = kms.calls;
  const readMs = await timeAsync(() => pool(OBJECTS, async (i) => drain((await reader.send(new GetObjectCommand({ Bucket: bucket, Key: `h/${i}` }))).Body)));
  rows.push([`KMS requests, ${OBJECTS.toLocaleString('en')} GETs (hierarchical, fresh keyring, ${CONCURRENCY} concurrent)`, `${OBJECTS.toLocaleString('en')} (1 per object)`, String(kms.calls - before), `${(readMs / 1000).toFixed(1)} s`, '≤ 1']);

  // The direct KMS keyring's count is 1 per object by construction; measured on LATENCY_N objects below.
  const direct = new EncryptingS3Client({ client: s3Client(endpoint), keyring: kms });
  const warm = new EncryptingS3Client({ client: s3Client(endpoint), keyring: hierarchical() });
  await warm.send(new PutObjectCommand({ Bucket: bucket, Key: 'warm-up', Body: small }));
  // A local AES key: s3crypt's own cost without any KMS, the floor the hierarchy should approach.
  const local = new EncryptingS3Client({ client: s3Client(endpoint), keyring: new RawAesKeyring({ keyName: 'bench', masterKey: randomBytes(32) }) });
  const clients: [string, S3Client][] = [['plain', plain], ['direct', direct], ['hier', warm], ['local', local]];
  const putAll = (name: string, client: S3Client) => async () => {
    for (let i = 0; i < LATENCY_N; i++) await client.send(new PutObjectCommand({ Bucket: bucket, Key: `lat-${name}-${i}`, Body: small }));
  };
  before = kms.calls;
  const puts = await compare(3, clients.map(([name, client]) => putAll(name, client)));
  const directCalls = kms.calls - before;
  const getAll = (name: string, client: S3Client) => async () => {
    for (let i = 0; i < LATENCY_N; i++) await drain((await client.send(new GetObjectCommand({ Bucket: bucket, Key: `lat-${name}-${i}` }))).Body);
  };
  const gets = await compare(3, clients.map(([name, client]) => getAll(name, client)));
  const ms = (total: number) => `${(total / LATENCY_N).toFixed(2)} ms`;
  const ratio = (base: number, ours: number) => `${((base / ours) * 100).toFixed(0)}%`;
  rows.push([`KMS requests, 3 × ${LATENCY_N} PUTs with the KMS keyring directly`, '', String(directCalls), '', '= objects']);
  for (const [label, times] of [['PUT', puts], ['GET', gets]] as const) {
    rows.push([`${label} 4 KiB latency (mean of ${LATENCY_N}), plain vs KMS keyring directly`, ms(times[0]!), ms(times[1]!), ratio(times[0]!, times[1]!), '—']);
    rows.push([`${label} 4 KiB latency (mean of ${LATENCY_N}), plain vs hierarchical (warm)`, ms(times[0]!), ms(times[2]!), ratio(times[0]!, times[2]!), '≈ local key']);
    rows.push([`${label} 4 KiB latency (mean of ${LATENCY_N}), plain vs local RawAesKeyring (reference)`, ms(times[0]!), ms(times[3]!), ratio(times[0]!, times[3]!), 'latency ≤ +20%']);
  }
  // The caching keyring: repeated reads of the same objects cost one unwrap per object (warm).
  const REPEATED = 100;
  const caching = new EncryptingS3Client({ client: s3Client(endpoint), keyring: new CachingKeyring({ keyring: kms, maxAgeMs: 10 * 60_000, maxEntries: 1000 }) });
  before = kms.calls;
  const cachedMs = await timeAsync(() => pool(OBJECTS, async (i) => drain((await caching.send(new GetObjectCommand({ Bucket: bucket, Key: `lat-direct-${i % REPEATED}` }))).Body)));
  rows.push([`KMS requests, ${OBJECTS.toLocaleString('en')} GETs of ${REPEATED} objects (CachingKeyring over the KMS keyring, ${CONCURRENCY} concurrent)`, `${OBJECTS.toLocaleString('en')} (1 per read)`, String(kms.calls - before), `${(cachedMs / 1000).toFixed(1)} s`, `${REPEATED} (1 per object)`]);
  const cachedGets = await compare(3, [getAll('plain', plain), getAll('direct', caching)]);
  rows.push([`GET 4 KiB latency (mean of ${LATENCY_N}), plain vs CachingKeyring (warm)`, ms(cachedGets[0]!), ms(cachedGets[1]!), ratio(cachedGets[0]!, cachedGets[1]!), 'latency ≤ +20%']);
  for (const client of [writer, reader, direct, warm, local, caching]) client.destroy();
} finally {
  await bao.server?.stop();
  await minio?.server.stop();
}
console.log(`node ${process.version}, ${(await import('node:os')).cpus().length} cores; KMS = OpenBao Transit (VaultTransitKeyring), key store and objects on MinIO\n`);
console.log('| measure | baseline | s3crypt | ratio / time | target |\n|---|---|---|---|---|');
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
