// npm run bench:parallel — the parallel, authenticated download against the plain client's single
// GET of the same object, on a MinIO at 127.0.0.1 and on one behind an emulated WAN link
// (bench/netem.ts: its own network namespace, RTT = 2 × delay). Every figure is a ratio against the
// plain single GET measured in the same run, interleaved. Not a test: it asserts nothing.
import { CreateBucketCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { EncryptingS3Client, RawAesKeyring, withS3Crypt, type ParallelReadOptions } from '@s3crypt/client';
import { s3Client, startMinio, type S3Endpoint } from '../test/harness/minio.js';
import { generated } from './data.js';
import { startNetemMinio } from './netem.js';

const MiB = 1024 * 1024;

async function drain(body: unknown): Promise<number> {
  let bytes = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) bytes += chunk.length;
  return bytes;
}

interface Variant {
  readonly name: string;
  readonly read: () => Promise<number>;
}

/** Median wall time per variant over `runs` rounds, the variants' order rotating between rounds. */
async function medians(variants: readonly Variant[], runs: number): Promise<number[]> {
  const times: number[][] = variants.map(() => []);
  for (let round = 0; round < runs; round++) {
    for (let i = 0; i < variants.length; i++) {
      const index = (i + round) % variants.length;
      const start = performance.now();
      await variants[index]!.read();
      times[index]!.push(performance.now() - start);
    }
  }
  return times.map((list) => list.sort((a, b) => a - b)[Math.floor(list.length / 2)]!);
}

/**
 * Rows comparing, on `endpoint`: the plain client's single GET, s3crypt's single GET, and s3crypt's
 * parallel GET with each of `settings`, for one object of `size` bytes.
 */
export async function parallelGetRows(endpoint: S3Endpoint, label: string, size: number, settings: readonly ParallelReadOptions[], runs = 5): Promise<string[][]> {
  const plain = s3Client(endpoint);
  const encrypting = new EncryptingS3Client({ client: s3Client(endpoint), keyring: new RawAesKeyring({ keyName: 'bench', masterKey: randomBytes(32) }) });
  const bucket = `bench-parallel-${Date.now()}`;
  try {
    await plain.send(new CreateBucketCommand({ Bucket: bucket }));
    const upload = (client: S3Client, key: string) =>
      new Upload({ client, params: { Bucket: bucket, Key: key, Body: Readable.from(generated(size)) }, partSize: 16 * MiB, queueSize: 4 }).done();
    await upload(plain, 'plain');
    await upload(encrypting, 'encrypted');
    const get = (client: S3Client, key: string, parallelReads: boolean | ParallelReadOptions) => async () =>
      drain((await client.send(withS3Crypt(new GetObjectCommand({ Bucket: bucket, Key: key }), client === plain ? {} : { parallelReads }))).Body);
    const variants: Variant[] = [
      { name: 'plain S3Client, one GET', read: get(plain, 'plain', false) },
      { name: 's3crypt, one GET', read: get(encrypting, 'encrypted', false) },
      ...settings.map((s) => ({ name: `s3crypt parallel, ${s.concurrency} × ${(s.rangeSize ?? 0) / MiB} MiB ranges`, read: get(encrypting, 'encrypted', s) })),
    ];
    for (const variant of variants) await variant.read(); // warm-up: connections, page cache, workers
    const times = await medians(variants, runs);
    const rate = (ms: number) => `${(size / MiB / (ms / 1000)).toFixed(0)} MiB/s`;
    return variants.slice(1).map((variant, i) => {
      const ratio = times[0]! / times[i + 1]!;
      const target = variant.name.includes('parallel') ? '> 100%' : '≥ 85%';
      const met = variant.name.includes('parallel') ? ratio > 1 : ratio >= 0.85;
      return [`${label}: GET ${size / MiB} MiB, ${variant.name}`, rate(times[0]!), rate(times[i + 1]!), `${(ratio * 100).toFixed(0)}%`, `${target}${met ? '' : ' (missed)'}`];
    });
  } finally {
    encrypting.destroy();
    plain.destroy();
  }
}

/** The loopback and WAN rows, each server started and stopped here. */
export async function parallelGetBench(size = 256 * MiB, delays: readonly number[] = [10]): Promise<string[][]> {
  const rows: string[][] = [];
  const local = await startMinio();
  try {
    rows.push(...(await parallelGetRows(local.endpoint, '127.0.0.1', size, [{ concurrency: 4, rangeSize: 8 * MiB }, { concurrency: 8, rangeSize: 16 * MiB }])));
  } finally {
    await local.server.stop();
  }
  for (const delayMs of delays) {
    const far = await startNetemMinio({ delayMs });
    try {
      rows.push(...(await parallelGetRows(far.endpoint, `RTT ${2 * delayMs} ms (${far.link})`, size, [{ concurrency: 4, rangeSize: 8 * MiB }, { concurrency: 8, rangeSize: 16 * MiB }], 3)));
    } finally {
      await far.stop();
    }
  }
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const at = process.argv.indexOf('--delays');
  const delays = at > 0 ? (process.argv[at + 1] ?? '').split(',').map(Number) : [10, 25];
  const rows = await parallelGetBench(256 * MiB, delays);
  console.log(`node ${process.version}, ${(await import('node:os')).cpus().length} cores\n`);
  console.log('| measure | plain | s3crypt | ratio | target |\n|---|---|---|---|---|');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
}
