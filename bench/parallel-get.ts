// npm run bench:parallel — the parallel, authenticated download against the plain client's single
// GET of the same object, on a MinIO at 127.0.0.1 and on one behind an emulated WAN link
// (bench/netem.ts: its own network namespace, RTT = 2 × delay), and on a static store at 127.0.0.1
// that serves with sendfile and so leaves a core free (bench/static-store.ts). Every figure is a
// ratio against the plain single GET measured in the same run, interleaved. Not a test: it asserts nothing.
import { CreateBucketCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { EncryptingS3Client, RawAesKeyring, withS3Crypt, type ParallelReadOptions } from '@s3crypt/client';
import { s3Client, startMinio, type S3Endpoint } from '../test/harness/minio.js';
import { generated } from './data.js';
import { startNetemMinio } from './netem.js';
import { CLOCK_TICKS, processCpuSeconds, startStaticStore, type StaticStore } from './static-store.js';

const MiB = 1024 * 1024;

async function drain(body: unknown): Promise<number> {
  let bytes = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) bytes += chunk.length;
  return bytes;
}

export interface Variant {
  readonly name: string;
  readonly read: () => Promise<number>;
}

export interface Timing {
  /** Median wall time, ms. */
  readonly ms: number;
  /** Over every measured round, in cores (CPU time / wall time): this process, the store (when known), the whole machine. */
  readonly clientCores: number;
  readonly storeCores: number | undefined;
  readonly machineCores: number;
}

/** CPU seconds the whole machine has spent busy (everything but idle and iowait), from /proc/stat. */
function machineBusySeconds(): number {
  // user nice system idle iowait irq softirq steal
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  return (ticks.reduce((a, b) => a + b, 0) - ticks[3]! - ticks[4]!) / CLOCK_TICKS;
}

/**
 * Median wall time per variant over `runs` rounds, the variants' order rotating between rounds, and
 * the CPU the client, the store (with `storeCpuSeconds`) and the machine used while each variant ran.
 */
export async function medians(variants: readonly Variant[], runs: number, storeCpuSeconds?: () => number): Promise<Timing[]> {
  const times: number[][] = variants.map(() => []);
  const cpu = variants.map(() => ({ client: 0, store: 0, machine: 0 }));
  for (let round = 0; round < runs; round++) {
    for (let i = 0; i < variants.length; i++) {
      const index = (i + round) % variants.length;
      const client = process.cpuUsage();
      const store = storeCpuSeconds?.() ?? 0;
      const machine = machineBusySeconds();
      const start = performance.now();
      await variants[index]!.read();
      times[index]!.push(performance.now() - start);
      const used = process.cpuUsage(client);
      cpu[index]!.client += (used.user + used.system) / 1e6;
      cpu[index]!.store += (storeCpuSeconds?.() ?? 0) - store;
      cpu[index]!.machine += machineBusySeconds() - machine;
    }
  }
  return times.map((list, i) => {
    const wall = list.reduce((a, b) => a + b, 0) / 1000;
    return {
      ms: [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!,
      clientCores: cpu[i]!.client / wall,
      storeCores: storeCpuSeconds ? cpu[i]!.store / wall : undefined,
      machineCores: cpu[i]!.machine / wall,
    };
  });
}

/** The two objects every row reads, one written by the plain client, one by s3crypt, in `bucket`. */
export interface BenchObjects {
  readonly bucket: string;
  readonly size: number;
  readonly keyring: RawAesKeyring;
}

/** Uploads the plain and the encrypted object of `size` bytes to a new bucket at `endpoint`. */
export async function uploadBenchObjects(endpoint: S3Endpoint, size: number): Promise<BenchObjects> {
  const plain = s3Client(endpoint);
  const keyring = new RawAesKeyring({ keyName: 'bench', masterKey: randomBytes(32) });
  const encrypting = new EncryptingS3Client({ client: s3Client(endpoint), keyring });
  const bucket = `bench-parallel-${Date.now()}`;
  try {
    await plain.send(new CreateBucketCommand({ Bucket: bucket }));
    const upload = (client: S3Client, key: string) =>
      new Upload({ client, params: { Bucket: bucket, Key: key, Body: Readable.from(generated(size)) }, partSize: 16 * MiB, queueSize: 4 }).done();
    await upload(plain, 'plain');
    await upload(encrypting, 'encrypted');
    return { bucket, size, keyring };
  } finally {
    encrypting.destroy();
    plain.destroy();
  }
}

export interface RowOptions {
  /** Measured rounds per variant (after one warm-up). Default 5. */
  readonly runs?: number;
  /** The client's decryption workers (`parallelReads.workers`); the library's default when absent. */
  readonly workers?: number;
  /** The store process's CPU seconds so far: the rows then say how much of a core it used. */
  readonly storeCpuSeconds?: () => number;
}

/**
 * Rows comparing, on `endpoint` (which serves `objects`): the plain client's single GET, s3crypt's
 * single GET, and s3crypt's parallel GET with each of `settings`.
 */
export async function parallelGetRows(endpoint: S3Endpoint, objects: BenchObjects, label: string, settings: readonly ParallelReadOptions[], options: RowOptions = {}): Promise<string[][]> {
  const { bucket, size, keyring } = objects;
  const plain = s3Client(endpoint);
  const encrypting = new EncryptingS3Client({ client: s3Client(endpoint), keyring, ...(options.workers === undefined ? {} : { parallelReads: { workers: options.workers } }) });
  try {
    const get = (client: S3Client, key: string, parallelReads: boolean | ParallelReadOptions) => async () =>
      drain((await client.send(withS3Crypt(new GetObjectCommand({ Bucket: bucket, Key: key }), client === plain ? {} : { parallelReads }))).Body);
    const variants: Variant[] = [
      { name: 'plain S3Client, one GET', read: get(plain, 'plain', false) },
      { name: 's3crypt, one GET', read: get(encrypting, 'encrypted', false) },
      ...settings.map((s) => ({ name: `s3crypt parallel, ${s.concurrency} × ${(s.rangeSize ?? 0) / MiB} MiB ranges`, read: get(encrypting, 'encrypted', s) })),
    ];
    for (const variant of variants) await variant.read(); // warm-up: connections, page cache, workers
    const timings = await medians(variants, options.runs ?? 5, options.storeCpuSeconds);
    const rate = (ms: number) => `${(size / MiB / (ms / 1000)).toFixed(0)} MiB/s`;
    const cores = (value: number | undefined) => (value === undefined ? '?' : value.toFixed(2));
    const base = timings[0]!;
    return variants.slice(1).map((variant, i) => {
      const ours = timings[i + 1]!;
      const ratio = base.ms / ours.ms;
      const target = variant.name.includes('parallel') ? '> 100%' : '≥ 85%';
      const met = variant.name.includes('parallel') ? ratio > 1 : ratio >= 0.85;
      // Cores busy while each ran, plain / s3crypt: the store's shows whether a core was free for the
      // client; the machine's includes everything else running here (noise from other work).
      const cpu = options.storeCpuSeconds
        ? `; cores used, plain / s3crypt: store ${cores(base.storeCores)} / ${cores(ours.storeCores)}, client ${cores(base.clientCores)} / ${cores(ours.clientCores)}, machine ${cores(base.machineCores)} / ${cores(ours.machineCores)}`
        : '';
      return [`${label}: GET ${size / MiB} MiB, ${variant.name}${cpu}`, rate(base.ms), rate(ours.ms), `${(ratio * 100).toFixed(0)}%`, `${target}${met ? '' : ' (missed)'}`];
    });
  } finally {
    encrypting.destroy();
    plain.destroy();
  }
}

export interface ParallelGetBenchOptions {
  /** The client's decryption workers; the library's default when absent. */
  readonly workers?: number;
  /** Parallel settings to measure; 4 × 8 MiB and 8 × 16 MiB by default. */
  readonly settings?: readonly ParallelReadOptions[];
  /** Only the static store's rows (no MinIO rows at 127.0.0.1, no WAN link). */
  readonly staticOnly?: boolean;
}

const DEFAULT_SETTINGS: readonly ParallelReadOptions[] = [
  { concurrency: 4, rangeSize: 8 * MiB },
  { concurrency: 8, rangeSize: 16 * MiB },
];

/**
 * The loopback, static-store and WAN rows, each server started and stopped here. The static store
 * (bench/static-store.ts) serves copies of the very objects uploaded to the loopback MinIO, with
 * sendfile, so almost no CPU: a core is free for the client, as with a store on another machine.
 * MinIO is stopped before the static store's rows are measured.
 */
export async function parallelGetBench(size = 256 * MiB, delays: readonly number[] = [10], options: ParallelGetBenchOptions = {}): Promise<string[][]> {
  const settings = options.settings ?? DEFAULT_SETTINGS;
  const rows: string[][] = [];
  const local = await startMinio();
  let store: StaticStore | undefined;
  try {
    const objects = await uploadBenchObjects(local.endpoint, size);
    const minioPid = local.server.process.pid!;
    if (!options.staticOnly) rows.push(...(await parallelGetRows(local.endpoint, objects, '127.0.0.1', settings, { workers: options.workers, storeCpuSeconds: () => processCpuSeconds(minioPid) })));
    store = await startStaticStore(local.endpoint, [{ Bucket: objects.bucket, Key: 'plain' }, { Bucket: objects.bucket, Key: 'encrypted' }]);
    await local.server.stop();
    const label = '127.0.0.1, static sendfile store (a core free)';
    rows.push(...(await parallelGetRows(store.endpoint, objects, label, settings, { workers: options.workers, storeCpuSeconds: store.cpuSeconds })));
  } finally {
    await local.server.stop(); // a second stop is a no-op
    await store?.stop();
  }
  for (const delayMs of options.staticOnly ? [] : delays) {
    const far = await startNetemMinio({ delayMs });
    try {
      const objects = await uploadBenchObjects(far.endpoint, size);
      rows.push(...(await parallelGetRows(far.endpoint, objects, `RTT ${2 * delayMs} ms (${far.link})`, settings, { runs: 3, workers: options.workers })));
    } finally {
      await far.stop();
    }
  }
  return rows;
}

/** `--name value` from argv, or undefined. */
export function flag(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at > 0 ? (process.argv[at + 1] ?? '') : undefined;
}

// npm run bench:parallel -- [--delays 10,25 | --delays ''] [--workers N] [--settings 4x8,8x16] [--static-only]
// --settings: concurrency × range size in MiB, comma-separated.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const delays = (flag('--delays') ?? '10,25').split(',').filter(Boolean).map(Number);
  const workers = flag('--workers');
  const settings = flag('--settings')
    ?.split(',')
    .filter(Boolean)
    .map((s) => {
      const [concurrency, rangeMiB] = s.split('x').map(Number);
      return { concurrency: concurrency!, rangeSize: rangeMiB! * MiB };
    });
  const rows = await parallelGetBench(256 * MiB, delays, { workers: workers === undefined ? undefined : Number(workers), settings, staticOnly: process.argv.includes('--static-only') });
  const { cpus, loadavg } = await import('node:os');
  console.log(`node ${process.version}, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the end${workers === undefined ? '' : `, workers: ${workers}`}\n`);
  console.log('| measure | plain | s3crypt | ratio | target |\n|---|---|---|---|---|');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
}
