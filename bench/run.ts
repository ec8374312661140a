// npm run bench: every figure is measured against its baseline in the same run. Not a test: it
// asserts nothing and never runs in CI. Results go in docs/PERFORMANCE.md.
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EncryptingS3Client, JsonLinesSink, RawAesKeyring } from '@s3crypt/client';
import { measureCpuPerByte, rawGcmSeal, type CpuRow } from './cpu-per-byte.js';
import { memoryRows } from './memory.js';
import { parallelGetBench } from './parallel-get.js';
import { readLatencyBench } from './read-latency.js';
import { openSegments } from '../packages/client/src/format/open-stream.js';
import { sealPart, sealPartStream, segmentNonce } from '../packages/client/src/format/segments.js';
import { planRead, objectLayout } from '../packages/client/src/format/layout.js';
import { endpointFromEnv, s3Client, startMinio } from '../test/harness/minio.js';
import { generated } from './data.js';
import { DEFAULT_SEGMENT_SIZE } from '../packages/client/src/format/constants.js';

const MiB = 1024 * 1024;
const SEGMENT = DEFAULT_SEGMENT_SIZE;
const rows: string[][] = [];
/** One row; `atLeast` is the lowest ratio that meets the target, and a miss says so in the row. */
const report = (what: string, baseline: string, ours: string, ratio: number, target: string, atLeast: number) =>
  rows.push([what, baseline, ours, `${(ratio * 100).toFixed(0)}%`, `${target}${ratio >= atLeast ? '' : ' (missed)'}`]);
const mbps = (bytes: number, ms: number) => `${((bytes / MiB) / (ms / 1000)).toFixed(0)} MiB/s`;

function time(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}
async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}
/** Best of `runs`, baseline and ours interleaved so drift hits both. */
async function compare(runs: number, baseline: () => Promise<unknown> | void, ours: () => Promise<unknown> | void): Promise<[number, number]> {
  let best: [number, number] = [Infinity, Infinity];
  for (let i = 0; i < runs; i++) {
    const b = await timeAsync(async () => baseline());
    const o = await timeAsync(async () => ours());
    best = [Math.min(best[0], b), Math.min(best[1], o)];
  }
  return best;
}

async function formatThroughput(): Promise<void> {
  const key = randomBytes(32);
  const part = randomBytes(8 * MiB);
  const total = 256 * MiB;
  const rawSeal = () => rawGcmSeal(key, part, SEGMENT, total);
  const oursSeal = () => {
    for (let done = 0; done < total; done += part.length) sealPart(key, part, SEGMENT);
  };
  time(rawSeal); // warm-up
  let [raw, ours] = [Infinity, Infinity];
  for (let i = 0; i < 3; i++) {
    raw = Math.min(raw, time(rawSeal));
    ours = Math.min(ours, time(oursSeal));
  }
  report('format encrypt, in memory (one contiguous part)', mbps(total, raw), mbps(total, ours), raw / ours, '≥ 80%', 0.8);
  const oursSealStream = async () => {
    for (let done = 0; done < total; done += part.length) {
      // 64 KiB source chunks, as a file or socket would deliver them.
      const source = (function* () {
        for (let offset = 0; offset < part.length; offset += 64 * 1024) yield part.subarray(offset, offset + 64 * 1024);
      })();
      for await (const _ of sealPartStream(key, Readable.from(source), part.length, SEGMENT, () => new Error('length'))) void _;
    }
  };
  const [rs, os] = await compare(3, rawSeal, oursSealStream);
  report('format encrypt, streamed (64 KiB chunks)', mbps(total, rs), mbps(total, os), rs / os, '≥ 80%', 0.8);

  const sealed = sealPart(key, part, SEGMENT);
  const rawOpen = () => {
    for (let done = 0; done < total; done += part.length) {
      for (let offset = 0, index = 0; offset < sealed.length; offset += SEGMENT + 16, index++) {
        const end = Math.min(offset + SEGMENT + 16, sealed.length);
        const decipher = createDecipheriv('aes-256-gcm', key, segmentNonce(index, end === sealed.length));
        decipher.setAuthTag(sealed.subarray(end - 16, end));
        decipher.update(sealed.subarray(offset, end - 16));
        decipher.final();
      }
    }
  };
  const layout = objectLayout([{ partNumber: 1, length: part.length, salt: Buffer.alloc(16) }], SEGMENT);
  const oursOpen = async () => {
    for (let done = 0; done < total; done += part.length) {
      const plan = planRead(layout, 0, part.length, true);
      // 64 KiB network-sized chunks, as a socket would deliver them.
      const source = (function* () {
        for (let offset = 0; offset < sealed.length; offset += 64 * 1024) yield sealed.subarray(offset, offset + 64 * 1024);
      })();
      for await (const _ of openSegments(Readable.from(source), plan.segments(), () => key)) void _;
    }
  };
  const [r, o] = await compare(3, rawOpen, oursOpen);
  report('format decrypt (streamed, 64 KiB chunks)', mbps(total, r), mbps(total, o), r / o, '≥ 80%', 0.8);
}

/** bench:cpu's measurements as rows of the one table: CPU per byte against raw GCM, wall clock, latency. */
function cpuRows(measured: readonly CpuRow[]): string[][] {
  return measured.flatMap((row): string[][] => {
    if (row.unit === 's/GiB') {
      const perByte = row.extra / row.rawGcm!;
      const wall = row.s3cryptWall / row.plainWall;
      const s = (value: number) => `${value.toFixed(3)} s/GiB`;
      return [
        [`${row.measure}: extra CPU over plain (${s(row.s3crypt)} − ${s(row.plain)}) vs raw GCM`, `raw GCM ${s(row.rawGcm!)}`, `extra ${s(row.extra)}`, `${perByte.toFixed(2)}×`, `≤ 1.25×${perByte <= 1.25 ? '' : ' (missed)'}`],
        [`${row.measure}: wall clock`, `${row.plainWall.toFixed(0)} MiB/s`, `${row.s3cryptWall.toFixed(0)} MiB/s`, `${(wall * 100).toFixed(0)}%`, `≥ 85%${wall >= 0.85 ? '' : ' (missed)'}`],
      ];
    }
    if (row.measure.includes('in-memory')) {
      return [[`${row.measure}: client CPU per request`, `${row.plain.toFixed(0)} µs`, `${row.s3crypt.toFixed(0)} µs`, `+${row.extra.toFixed(0)} µs`, '— (no server: the client\'s own cost)']];
    }
    const latency = row.s3cryptWall / row.plainWall - 1;
    const limit = row.measure.startsWith('PUT') ? 0.1 : 0.2;
    return [[`${row.measure} latency`, `${row.plainWall.toFixed(2)} ms`, `${row.s3cryptWall.toFixed(2)} ms`, `${latency >= 0 ? '+' : ''}${(latency * 100).toFixed(0)}%`, `≤ +${limit * 100}%${latency <= limit ? '' : ' (missed)'}`]];
  });
}

async function drain(body: unknown): Promise<number> {
  let bytes = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) bytes += chunk.length;
  return bytes;
}

/**
 * The cost of the audit log: the same encrypting client with and without `audit` (a JSON Lines file
 * sink, fsynced, fail-closed: every operation waits until its events are on disk).
 */
async function auditCost(endpoint: Parameters<typeof s3Client>[0], keyring: RawAesKeyring, bucket: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 's3crypt-bench-audit-'));
  const off = new EncryptingS3Client({ client: s3Client(endpoint), keyring });
  const on = new EncryptingS3Client({ client: s3Client(endpoint), keyring, audit: { sink: new JsonLinesSink({ path: join(dir, 'audit.jsonl') }), whenFull: 'fail-closed' } });
  try {
    const small = randomBytes(4096);
    const n = 200;
    const name = (client: S3Client, i: number) => `audit-small-${client === on ? 'on' : 'off'}-${i}`;
    const putSmall = (client: S3Client) => async () => {
      for (let i = 0; i < n; i++) await client.send(new PutObjectCommand({ Bucket: bucket, Key: name(client, i), Body: small }));
    };
    const ms = (total: number) => `${(total / n).toFixed(2)} ms`;
    const [offPut, onPut] = await compare(3, putSmall(off), putSmall(on));
    report('audit: PUT 4 KiB latency, off vs on (file, fail-closed)', ms(offPut), ms(onPut), offPut / onPut, 'latency ≤ +5%', 1 / 1.05);
    const getSmall = (client: S3Client) => async () => {
      for (let i = 0; i < n; i++) await drain((await client.send(new GetObjectCommand({ Bucket: bucket, Key: name(client, i) }))).Body);
    };
    const [offGet, onGet] = await compare(3, getSmall(off), getSmall(on));
    report('audit: GET 4 KiB latency, off vs on (file, fail-closed)', ms(offGet), ms(onGet), offGet / onGet, 'latency ≤ +5%', 1 / 1.05);
    // The floor under both latency rows: one event line made durable on this disk, nothing else.
    const floorSink = new JsonLinesSink({ path: join(dir, 'floor.jsonl') });
    const floorEvent = { schema: 1, time: new Date().toISOString(), operation: 'unwrap', outcome: 'success', bucket, key: name(on, 0), requestId: randomUUID() } as const;
    for (let i = 0; i < 20; i++) await floorSink.write(floorEvent);
    const floorStart = performance.now();
    for (let i = 0; i < n; i++) await floorSink.write(floorEvent);
    const floor = (performance.now() - floorStart) / n;
    await floorSink.close();
    const share = (total: number) => `${((floor / (total / n)) * 100).toFixed(0)}%`;
    rows.push(['audit: one event line written durably, alone (the floor under both rows above)', '—', `${(floor * 1000).toFixed(0)} µs`, `${share(offGet)} of a GET, ${share(offPut)} of a PUT`, '—']);
    const size = 256 * MiB;
    const put = (client: S3Client, key: string) => () =>
      new Upload({ client, params: { Bucket: bucket, Key: key, Body: Readable.from(generated(size)) }, partSize: 16 * MiB, queueSize: 4 }).done();
    const [offBig, onBig] = await compare(3, put(off, 'audit-off-256'), put(on, 'audit-on-256'));
    report('audit: PUT 256 MiB, off vs on (file, fail-closed)', mbps(size, offBig), mbps(size, onBig), offBig / onBig, '≥ 95%', 0.95);
    const get = (client: S3Client, key: string) => async () => drain((await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body);
    const [offBigGet, onBigGet] = await compare(5, get(off, 'audit-off-256'), get(on, 'audit-on-256'));
    report('audit: GET 256 MiB, off vs on (file, fail-closed)', mbps(size, offBigGet), mbps(size, onBigGet), offBigGet / onBigGet, '≥ 95%', 0.95);
  } finally {
    on.destroy();
    off.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

const existing = endpointFromEnv();
const minio = existing ? undefined : await startMinio();
const endpoint = existing ?? minio!.endpoint;
// `npm run bench:audit` (--audit-only): only the audit log's cost. `npm run bench:quick` (--quick): this
// table without the 10 GiB memory rows and the WAN link. (`npm run bench -- --flag` would pass the
// flag to the last script of `bench`'s chain, not to this one.)
const auditOnly = process.argv.includes('--audit-only');
const quick = process.argv.includes('--quick');
try {
  if (!auditOnly) {
    await formatThroughput();
    // Targets 1 and 2: process CPU per byte against raw GCM, wall clock, 4 KiB latency (bench:cpu
    // prints the same measurements with every column).
    rows.push(...cpuRows((await measureCpuPerByte({ endpoint })).rows));
  }
  const plain = s3Client(endpoint);
  const keyring = new RawAesKeyring({ keyName: 'bench', masterKey: randomBytes(32) });
  const bucket = `bench-${Date.now()}`;
  await plain.send(new CreateBucketCommand({ Bucket: bucket }));
  await auditCost(endpoint, keyring, bucket);
  if (!auditOnly) {
    // Target 3: the parallel download against the plain single GET, on loopback and over a WAN link.
    rows.push(...(await parallelGetBench(256 * MiB, quick ? [] : [10, 25])));
    // Whole reads where users live: the store over a link, the key service a round trip away.
    if (!quick) rows.push(...(await readLatencyBench()));
    // Target 4: peak RSS at 256 MiB and 10 GiB.
    rows.push(...(await memoryRows(endpoint, bucket, quick ? [256 * MiB] : undefined, ['natural'])));
  }
} finally {
  await minio?.server.stop();
}
console.log(`node ${process.version}, ${(await import('node:os')).cpus().length} cores\n`);
console.log('| measure | baseline | s3crypt | ratio | target |\n|---|---|---|---|---|');
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
