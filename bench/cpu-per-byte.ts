// npm run bench:cpu: the client's extra CPU per byte over the plain S3 client, against raw
// node:crypto AES-256-GCM at the same segment size (performance issue, target 1). Process CPU time
// (user + system, every thread of this process; MinIO runs in its own process and is not counted),
// so a noisy machine moves the figures far less than wall-clock throughput. Not a test: it asserts
// nothing and never runs in CI. Starts its own MinIO unless S3_ENDPOINT is set.
// BENCH_RUNS (default 5) interleaved runs per figure, median reported.
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { EncryptingS3Client, RawAesKeyring } from '@s3crypt/client';
import { DEFAULT_SEGMENT_SIZE } from '../packages/client/src/format/constants.js';
import { segmentNonce } from '../packages/client/src/format/segments.js';
import { endpointFromEnv, s3Client, startMinio, type S3Endpoint } from '../test/harness/minio.js';
import { generated } from './data.js';
import { memoryStoreClient } from './memory-store.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface CpuPerByteOptions {
  /** The S3 endpoint; without it MinIO is started (or S3_ENDPOINT used) for the measurement. */
  readonly endpoint?: S3Endpoint;
  /** Interleaved runs per figure (the median is reported). Default 5, or BENCH_RUNS. */
  readonly runs?: number;
  /** Bytes per PUT and GET. Default 256 MiB. */
  readonly size?: number;
  /** Small-object requests per run for the per-request rows. Default 200. */
  readonly smallRequests?: number;
  /** Only these figures (default all): for profiling one path. */
  readonly only?: readonly ('small' | 'put' | 'get')[];
}

/** One measured figure: CPU seconds per GiB (or µs per request), plain against s3crypt. */
export interface CpuRow {
  readonly measure: string;
  /** Median process CPU of the plain client: s/GiB, or µs per request for the small rows. */
  readonly plain: number;
  readonly s3crypt: number;
  /** Median of the per-run differences (s3crypt − plain). */
  readonly extra: number;
  /** Raw AES-256-GCM at the client's segment size, s/GiB (per-byte rows only). */
  readonly rawGcm?: number;
  /** Median wall clock: MiB/s for the per-byte rows, ms per request for the small ones. */
  readonly plainWall: number;
  readonly s3cryptWall: number;
  readonly unit: 's/GiB' | 'µs/request';
}

export interface CpuPerByteResult {
  readonly node: string;
  readonly cores: number;
  readonly segmentSize: number;
  readonly rows: readonly CpuRow[];
  /** The rows as one Markdown table. */
  readonly table: string;
}

interface Sample {
  readonly cpuMs: number;
  readonly ms: number;
}

async function measure(fn: () => Promise<unknown> | unknown): Promise<Sample> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await fn();
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000, ms };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Runs plain and ours alternately (the order flips every run, so drift hits both), after one warm-up each. */
async function interleaved(runs: number, plain: () => Promise<unknown> | unknown, ours: () => Promise<unknown> | unknown): Promise<{ plain: Sample[]; ours: Sample[] }> {
  await plain();
  await ours();
  const result: { plain: Sample[]; ours: Sample[] } = { plain: [], ours: [] };
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      result.plain.push(await measure(plain));
      result.ours.push(await measure(ours));
    } else {
      result.ours.push(await measure(ours));
      result.plain.push(await measure(plain));
    }
  }
  return result;
}

/**
 * Raw AES-256-GCM over `total` bytes: `part` sealed again and again, one cipher object per segment of
 * `segmentSize` (as s3crypt cuts a part), output discarded. The baseline of every "vs raw GCM" row.
 */
export function rawGcmSeal(key: Uint8Array, part: Uint8Array, segmentSize: number, total: number): void {
  for (let done = 0; done < total; done += part.length) {
    for (let offset = 0, index = 0; offset < part.length; offset += segmentSize, index++) {
      const cipher = createCipheriv('aes-256-gcm', key, segmentNonce(index, false));
      cipher.update(part.subarray(offset, offset + segmentSize));
      cipher.final();
      cipher.getAuthTag();
    }
  }
}

/**
 * Raw AES-256-GCM CPU seconds per GiB: `size` bytes in memory, one cipher object per segment of
 * `segmentSize` (as the client writes them), output discarded. Seal for PUT, open for GET.
 */
export function rawGcmCost(segmentSize: number, size: number, runs: number): { seal: number; open: number } {
  const key = randomBytes(32);
  const part = randomBytes(Math.min(size, 16 * MiB));
  const sealed: Buffer[] = [];
  const tags: Buffer[] = [];
  for (let offset = 0, index = 0; offset < part.length; offset += segmentSize, index++) {
    const cipher = createCipheriv('aes-256-gcm', key, segmentNonce(index, false));
    sealed.push(cipher.update(part.subarray(offset, offset + segmentSize)));
    cipher.final();
    tags.push(cipher.getAuthTag());
  }
  const seal = () => rawGcmSeal(key, part, segmentSize, size);
  const open = () => {
    for (let done = 0; done < size; done += part.length) {
      for (let index = 0; index < sealed.length; index++) {
        const decipher = createDecipheriv('aes-256-gcm', key, segmentNonce(index, false));
        decipher.setAuthTag(tags[index]!);
        decipher.update(sealed[index]!);
        decipher.final();
      }
    }
  };
  seal();
  open();
  const seals: number[] = [];
  const opens: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = process.cpuUsage();
    seal();
    const s2 = process.cpuUsage(s);
    seals.push((s2.user + s2.system) / 1e6);
    const o = process.cpuUsage();
    open();
    const o2 = process.cpuUsage(o);
    opens.push((o2.user + o2.system) / 1e6);
  }
  return { seal: median(seals) / (size / GiB), open: median(opens) / (size / GiB) };
}

async function drain(body: unknown): Promise<number> {
  let bytes = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) bytes += chunk.length;
  return bytes;
}

function perByteRow(measureName: string, size: number, samples: { plain: Sample[]; ours: Sample[] }, rawGcm: number): CpuRow {
  const perGiB = (s: Sample) => s.cpuMs / 1000 / (size / GiB);
  const mibps = (s: Sample) => size / MiB / (s.ms / 1000);
  return {
    measure: measureName,
    plain: median(samples.plain.map(perGiB)),
    s3crypt: median(samples.ours.map(perGiB)),
    extra: median(samples.ours.map((s, i) => perGiB(s) - perGiB(samples.plain[i]!))),
    rawGcm,
    plainWall: median(samples.plain.map(mibps)),
    s3cryptWall: median(samples.ours.map(mibps)),
    unit: 's/GiB',
  };
}

function perRequestRow(measureName: string, n: number, samples: { plain: Sample[]; ours: Sample[] }): CpuRow {
  const us = (s: Sample) => (s.cpuMs * 1000) / n;
  const ms = (s: Sample) => s.ms / n;
  return {
    measure: measureName,
    plain: median(samples.plain.map(us)),
    s3crypt: median(samples.ours.map(us)),
    extra: median(samples.ours.map((s, i) => us(s) - us(samples.plain[i]!))),
    plainWall: median(samples.plain.map(ms)),
    s3cryptWall: median(samples.ours.map(ms)),
    unit: 'µs/request',
  };
}

function tableOf(rows: readonly CpuRow[], segmentSize: number): string {
  const lines = [
    `node ${process.version}, ${cpus().length} cores, segment ${segmentSize / KiB} KiB, process CPU (user + system), median`,
    '',
    '| measure | plain CPU | s3crypt CPU | extra CPU | raw GCM CPU | extra / raw | target | wall plain / s3crypt |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    if (row.unit === 's/GiB') {
      const ratio = row.extra / row.rawGcm!;
      const f = (v: number) => `${v.toFixed(3)} s/GiB`;
      lines.push(
        `| ${row.measure} | ${f(row.plain)} | ${f(row.s3crypt)} | ${f(row.extra)} | ${f(row.rawGcm!)} | ${ratio.toFixed(2)}× ${ratio <= 1.25 ? '(met)' : '(missed)'} | ≤ 1.25× | ${row.plainWall.toFixed(0)} / ${row.s3cryptWall.toFixed(0)} MiB/s |`,
      );
    } else {
      const f = (v: number) => `${v.toFixed(0)} µs`;
      const latency = row.s3cryptWall / row.plainWall - 1;
      const target = row.measure.includes('in-memory') ? '— (no server: the client\'s own cost)' : `latency ${row.measure.startsWith('PUT') ? '≤ +10%' : '≤ +20%'}: ${latency >= 0 ? '+' : ''}${(latency * 100).toFixed(0)}%`;
      lines.push(
        `| ${row.measure} | ${f(row.plain)} | ${f(row.s3crypt)} | ${f(row.extra)} | | | ${target} | ${row.plainWall.toFixed(2)} / ${row.s3cryptWall.toFixed(2)} ms |`,
      );
    }
  }
  return lines.join('\n');
}

/**
 * Measures the client's CPU per byte (PUT and GET of `size` bytes) and per small request against the
 * plain S3 client, and raw AES-256-GCM at the client's default segment size.
 *
 * @example
 * ```ts
 * const { table } = await measureCpuPerByte({ endpoint, runs: 5 });
 * console.log(table);
 * ```
 */
export async function measureCpuPerByte(options: CpuPerByteOptions = {}): Promise<CpuPerByteResult> {
  const runs = options.runs ?? Number(process.env.BENCH_RUNS ?? 5);
  const size = options.size ?? 256 * MiB;
  const n = options.smallRequests ?? 200;
  const segmentSize = DEFAULT_SEGMENT_SIZE;
  const existing = options.endpoint ?? endpointFromEnv();
  const minio = existing ? undefined : await startMinio();
  const endpoint = existing ?? minio!.endpoint;
  const rows: CpuRow[] = [];
  const plain = s3Client(endpoint);
  const encrypting = new EncryptingS3Client({ client: s3Client(endpoint), keyring: new RawAesKeyring({ keyName: 'bench', masterKey: randomBytes(32) }) });
  try {
    const bucket = `bench-cpu-${Date.now()}`;
    await plain.send(new CreateBucketCommand({ Bucket: bucket }));
    const raw = rawGcmCost(segmentSize, size, runs);

    const wanted = (what: 'small' | 'put' | 'get') => !options.only || options.only.includes(what);
    const small = randomBytes(4 * KiB);
    if (wanted('small')) {
      // The client's own cost per request, without the server's (or the network's) noise.
      const memoryPlain = memoryStoreClient();
      const memoryEncrypting = new EncryptingS3Client({ client: memoryStoreClient(), keyring: new RawAesKeyring({ keyName: 'bench', masterKey: randomBytes(32) }) });
      const m = n * 5;
      const putMemory = (client: S3Client) => async () => {
        for (let i = 0; i < m; i++) await client.send(new PutObjectCommand({ Bucket: bucket, Key: `small-${i % n}`, Body: small }));
      };
      const getMemory = (client: S3Client) => async () => {
        for (let i = 0; i < m; i++) await drain((await client.send(new GetObjectCommand({ Bucket: bucket, Key: `small-${i % n}` }))).Body);
      };
      rows.push(perRequestRow('PUT 4 KiB, in-memory store', m, await interleaved(runs, putMemory(memoryPlain), putMemory(memoryEncrypting))));
      rows.push(perRequestRow('GET 4 KiB, in-memory store', m, await interleaved(runs, getMemory(memoryPlain), getMemory(memoryEncrypting))));
    }
    const name = (client: S3Client, i: number) => `small-${client === plain ? 'p' : 'e'}-${i}`;
    const putSmall = (client: S3Client) => async () => {
      for (let i = 0; i < n; i++) await client.send(new PutObjectCommand({ Bucket: bucket, Key: name(client, i), Body: small }));
    };
    if (wanted('small')) rows.push(perRequestRow('PUT 4 KiB', n, await interleaved(runs, putSmall(plain), putSmall(encrypting))));
    const getSmall = (client: S3Client) => async () => {
      for (let i = 0; i < n; i++) await drain((await client.send(new GetObjectCommand({ Bucket: bucket, Key: name(client, i) }))).Body);
    };
    if (wanted('small')) rows.push(perRequestRow('GET 4 KiB', n, await interleaved(runs, getSmall(plain), getSmall(encrypting))));

    const put = (client: S3Client) => () =>
      new Upload({ client, params: { Bucket: bucket, Key: `big-${client === plain ? 'p' : 'e'}`, Body: Readable.from(generated(size)) }, partSize: 16 * MiB, queueSize: 4 }).done();
    // A GET needs the objects the PUT writes.
    if (wanted('put') || wanted('get')) rows.push(perByteRow(`PUT ${size / MiB} MiB (Upload, 16 MiB × 4)`, size, await interleaved(runs, put(plain), put(encrypting)), raw.seal));
    const get = (client: S3Client) => async () => drain((await client.send(new GetObjectCommand({ Bucket: bucket, Key: `big-${client === plain ? 'p' : 'e'}` }))).Body);
    if (wanted('get')) rows.push(perByteRow(`GET ${size / MiB} MiB (streamed, drained)`, size, await interleaved(runs, get(plain), get(encrypting)), raw.open));
  } finally {
    encrypting.destroy();
    plain.destroy();
    await minio?.server.stop();
  }
  return { node: process.version, cores: cpus().length, segmentSize, rows, table: tableOf(rows, segmentSize) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // --size=<MiB>, --only=put,get,small, --json
  const flag = (name: string) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
  const sizeFlag = flag('size');
  const onlyFlag = flag('only');
  const result = await measureCpuPerByte({
    ...(sizeFlag ? { size: Number(sizeFlag) * MiB } : {}),
    ...(onlyFlag ? { only: onlyFlag.split(',') as ('small' | 'put' | 'get')[] } : {}),
  });
  console.log(result.table);
  if (process.argv.includes('--json')) console.log(JSON.stringify(result.rows));
}
