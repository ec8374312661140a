// npm run bench:memory [-- --sizes 256M,10G] [--variants natural,mmap,collected]: peak RSS of a
// streamed PUT (lib-storage Upload of a stream of unknown length) and a streamed GET (drained), plain
// S3Client against EncryptingS3Client, each in a fresh child process (bench/memory-child.ts). The
// s3crypt figure may exceed the plain one by at most what the client itself must hold: for a PUT the
// ciphertext of the parts in flight, for a GET its stream buffers. Each figure is measured three ways
// (see Variant): as an application runs, with glibc returning large freed buffers, and with garbage
// collected every few MiB, which shows what is live rather than what the allocator and V8 have yet to
// give back. bench/run.ts takes its rows from memoryRows(). Not a test: it asserts nothing and never
// runs in CI. Starts MinIO unless S3_ENDPOINT is set; imports @s3crypt/client from dist (the npm
// script builds first).
import { CreateBucketCommand, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { TAIL_FETCH_LENGTH } from '../packages/client/src/client/read-object.js';
import { DEFAULT_SEGMENT_SIZE } from '../packages/client/src/format/constants.js';
import { READ_AHEAD_BYTES } from '../packages/client/src/format/open-stream.js';
import { encryptedPartLength } from '../packages/client/src/format/segments.js';
import { endpointFromEnv, s3Client, startMinio, type S3Endpoint } from '../test/harness/minio.js';
import type { MemoryJob, MemoryResult } from './memory-child.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
/** The bench's Upload settings (lib-storage's defaults are 5 MiB × 4). */
export const PART_SIZE = 16 * MiB;
export const QUEUE_SIZE = 4;
export const DEFAULT_SIZES = [256 * MiB, 10 * GiB];
/** How far the largest size's peak may stray from the smallest's and still count as "the same budget". */
const FLAT_TOLERANCE = 0.1;

export interface MemoryMeasurement {
  readonly operation: 'put' | 'get' | 'get-parallel';
  readonly variant: Variant;
  readonly bytes: number;
  readonly plain: MemoryResult;
  readonly s3crypt: MemoryResult;
  /** What the client may hold beyond the plain client's peak. */
  readonly budget: number;
  readonly budgetWhy: string;
}

/**
 * PUT: the ciphertext of the parts in flight. lib-storage holds each part's plaintext either way; the
 * client adds one sealed copy (plaintext + a tag per segment) per part being sent.
 */
function putBudget(): [number, string] {
  const sealed = encryptedPartLength(PART_SIZE, DEFAULT_SEGMENT_SIZE);
  return [QUEUE_SIZE * sealed, `${QUEUE_SIZE} × ${mib(sealed, 3)} sealed part`];
}

/**
 * GET: what the decrypting stream keeps: its read-ahead of verified plaintext, the tail fetched
 * before the body, and one segment's plaintext held back until its tag verifies.
 */
function getBudget(): [number, string] {
  // The library's own constant rather than a copy, so the budget follows the library.
  return [READ_AHEAD_BYTES + TAIL_FETCH_LENGTH + DEFAULT_SEGMENT_SIZE, `read-ahead ${mib(READ_AHEAD_BYTES, 2)} + tail ${mib(TAIL_FETCH_LENGTH, 2)} + segment ${mib(DEFAULT_SEGMENT_SIZE, 2)}`];
}

/**
 * A parallel GET (the client's defaults): the ranges in flight plus the one being handed over, each
 * as ciphertext and as plaintext, the tail, and the decryption worker's own isolate (a fixed cost,
 * ~10 MiB measured here for an idle worker; one worker on a 2-core machine).
 */
function parallelGetBudget(): [number, string] {
  const ranges = 4 + 1;
  const range = 8 * MiB;
  const workers = Math.max(0, Math.min(4, availableParallelism() - 1));
  const isolate = 10 * MiB;
  return [ranges * range * 2 + TAIL_FETCH_LENGTH + workers * isolate, `(${ranges - 1} + 1) × ${mib(range)} range × 2 + tail ${mib(TAIL_FETCH_LENGTH, 2)} + ${workers} worker × ${mib(isolate)}`];
}

const mib = (bytes: number, digits = 0) => `${(bytes / MiB).toFixed(digits)} MiB`;
const signedMib = (bytes: number) => `${bytes >= 0 ? '+' : '−'}${mib(Math.abs(bytes), 1)}`;
const size = (bytes: number) => (bytes >= GiB && bytes % GiB === 0 ? `${bytes / GiB} GiB` : bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} B`);

/** `256M,10G` → byte counts (binary units; K, M, G, or none for bytes). */
export function parseSizes(text: string): number[] {
  return text.split(',').map((item) => {
    const match = /^\s*(\d+(?:\.\d+)?)\s*([KMG]?)i?B?\s*$/i.exec(item);
    if (!match) throw new TypeError(`--sizes: cannot read "${item}" (use e.g. 256M,10G)`);
    const unit = { '': 1, K: KiB, M: MiB, G: GiB }[match[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
    return Math.round(Number(match[1]) * unit);
  });
}

const childScript = fileURLToPath(new URL('./memory-child.ts', import.meta.url));
const run = promisify(execFile);

/**
 * How a child runs. `natural`: as an application would (the figure the target is about). `mmap`: the
 * same, but glibc serves every allocation of 1 MiB or more with its own mapping, returned to the
 * system when freed (by default glibc raises that threshold after the first large free, so freed
 * part buffers stay in its heap). `collected`: as `mmap` from 64 KiB, and garbage collected after
 * every {@link GC_EVERY} bytes, so RSS follows what is live rather than what V8 has yet to collect.
 */
export type Variant = 'natural' | 'mmap' | 'collected';
export const VARIANTS: readonly Variant[] = ['natural', 'mmap', 'collected'];
export const GC_EVERY = 4 * MiB;
const MMAP_THRESHOLD: Record<Variant, number | undefined> = { natural: undefined, mmap: 1 * MiB, collected: 64 * KiB };

async function measure(job: MemoryJob, variant: Variant): Promise<MemoryResult> {
  const collected = variant === 'collected';
  const threshold = MMAP_THRESHOLD[variant];
  const { stdout } = await run(process.execPath, [...(collected ? ['--expose-gc'] : []), '--import', 'tsx', childScript], {
    env: {
      ...process.env,
      ...(threshold !== undefined ? { MALLOC_MMAP_THRESHOLD_: String(threshold) } : {}),
      NODE_NO_WARNINGS: '1',
      MEMORY_JOB: JSON.stringify({ ...job, ...(collected ? { gcEvery: GC_EVERY } : {}) }),
    },
    maxBuffer: 1024 * 1024,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as MemoryResult;
}

/**
 * Measures every size and variant: PUT plain, PUT s3crypt, GET plain (of the plain object), GET
 * s3crypt (of the s3crypt object), each in its own process; the objects are deleted after each size.
 * `bucket` must exist.
 */
export async function measureMemory(
  endpoint: S3Endpoint,
  bucket: string,
  sizes: readonly number[] = DEFAULT_SIZES,
  variants: readonly Variant[] = VARIANTS,
  log: (line: string) => void = () => undefined,
): Promise<MemoryMeasurement[]> {
  const masterKeyHex = randomBytes(32).toString('hex');
  const admin = s3Client(endpoint);
  const measurements: MemoryMeasurement[] = [];
  const budgets = { put: putBudget(), get: getBudget() };
  try {
    for (const bytes of sizes) {
      const keys = { plain: `memory-${bytes}-plain-${Date.now()}`, s3crypt: `memory-${bytes}-s3crypt-${Date.now()}` };
      try {
        for (const variant of variants) {
          const results: Partial<Record<`${'put' | 'get'}-${'plain' | 's3crypt' | 's3crypt-parallel'}`, MemoryResult>> = {};
          for (const operation of ['put', 'get'] as const) {
            for (const client of operation === 'get' ? (['plain', 's3crypt', 's3crypt-parallel'] as const) : (['plain', 's3crypt'] as const)) {
              const key = keys[client === 'plain' ? 'plain' : 's3crypt'];
              const result = await measure({ endpoint, bucket, key, operation, client, bytes, partSize: PART_SIZE, queueSize: QUEUE_SIZE, masterKeyHex }, variant);
              log(`${variant} ${operation} ${client} ${size(bytes)}: maxRSS ${mib(result.maxRss)}, ${mib(bytes / (result.ms / 1000))}/s`);
              results[`${operation}-${client}`] = result;
            }
          }
          const [parallelBudget, parallelWhy] = parallelGetBudget();
          measurements.push({ operation: 'get-parallel', variant, bytes, plain: results['get-plain']!, s3crypt: results['get-s3crypt-parallel']!, budget: parallelBudget, budgetWhy: parallelWhy });
          for (const operation of ['put', 'get'] as const) {
            const [budget, budgetWhy] = budgets[operation];
            // Between collections s3crypt leaves up to one interval more garbage than plain (a GET allocates a
            // ciphertext and a plaintext chunk per network read, plain only the first).
            const allowance = variant === 'collected' ? GC_EVERY : 0;
            measurements.push({ operation, variant, bytes, plain: results[`${operation}-plain`]!, s3crypt: results[`${operation}-s3crypt`]!, budget: budget + allowance, budgetWhy: allowance ? `${budgetWhy} + ${mib(allowance)} between collections` : budgetWhy });
          }
        }
      } finally {
        // 10 GiB objects fill the disk: gone before the next size.
        for (const key of Object.values(keys)) await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
      }
    }
  } finally {
    admin.destroy();
  }
  return measurements;
}

interface Verdict {
  readonly extra: number;
  readonly withinBudget: boolean;
  /** s3crypt's peak relative to its peak at the smallest size measured (undefined for that size). */
  readonly vsSmallest?: number;
  readonly flat?: boolean;
}

function verdict(m: MemoryMeasurement, all: readonly MemoryMeasurement[]): Verdict {
  const extra = m.s3crypt.maxRss - m.plain.maxRss;
  const smallest = all.filter((other) => other.operation === m.operation && other.variant === m.variant).reduce((a, b) => (b.bytes < a.bytes ? b : a));
  if (smallest === m) return { extra, withinBudget: extra <= m.budget };
  const vsSmallest = m.s3crypt.maxRss / smallest.s3crypt.maxRss - 1;
  return { extra, withinBudget: extra <= m.budget, vsSmallest, flat: Math.abs(vsSmallest) <= FLAT_TOLERANCE };
}

/** By variant (natural first), then operation (PUT first) and size. */
const ordered = (measurements: readonly MemoryMeasurement[]) =>
  [...measurements].sort((a, b) => VARIANTS.indexOf(a.variant) - VARIANTS.indexOf(b.variant) || b.operation.localeCompare(a.operation) || a.bytes - b.bytes);

const mark = (ok: boolean) => (ok ? '✓' : '✗ missed');
const operationName = (m: MemoryMeasurement) =>
  `${{ put: `PUT (Upload, ${size(PART_SIZE)} parts × ${QUEUE_SIZE})`, get: 'GET (streamed, drained)', 'get-parallel': 'GET parallel (4 × 8 MiB ranges)' }[m.operation]}${{ natural: '', mmap: ', mmap ≥ 1 MiB', collected: `, GC every ${mib(GC_EVERY)}` }[m.variant]}`;

/**
 * The measurements as rows of bench/run.ts's table: measure, baseline (plain), s3crypt, ratio
 * (here the extra over plain), target.
 *
 * @example
 * ```ts
 * for (const row of await memoryRows(endpoint, bucket)) rows.push(row);
 * ```
 */
export async function memoryRows(endpoint: S3Endpoint, bucket: string, sizes: readonly number[] = DEFAULT_SIZES, variants: readonly Variant[] = VARIANTS): Promise<string[][]> {
  const measurements = await measureMemory(endpoint, bucket, sizes, variants);
  return ordered(measurements).map((m) => {
    const v = verdict(m, measurements);
    const flat = v.vsSmallest === undefined ? '' : `; vs ${size(Math.min(...sizes))} ${signedPercent(v.vsSmallest)} ${mark(v.flat!)}`;
    return [`peak RSS, ${operationName(m)} ${size(m.bytes)}`, mib(m.plain.maxRss), mib(m.s3crypt.maxRss), `extra ${signedMib(v.extra)}`, `extra ≤ ${mib(m.budget, 1)} ${mark(v.withinBudget)}${flat}`];
  });
}

const signedPercent = (ratio: number) => `${ratio >= 0 ? '+' : '−'}${Math.abs(ratio * 100).toFixed(1)}%`;

/** The detailed table the CLI prints. */
function detailedTable(measurements: readonly MemoryMeasurement[]): string {
  const smallest = Math.min(...measurements.map((m) => m.bytes));
  const where = (r: MemoryResult) => `${((r.peak.done / r.bytes) * 100).toFixed(0)}% in, ArrayBuffers ${mib(r.peak.arrayBuffers)}, JS heap ${mib(r.peak.heapUsed)} used of ${mib(r.peak.heapTotal)}`;
  const lines = [
    `| operation | size | plain peak RSS | s3crypt peak RSS | extra | budget | extra ≤ budget | s3crypt vs ${size(smallest)} (±${FLAT_TOLERANCE * 100}%) |`,
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const m of ordered(measurements)) {
    const v = verdict(m, measurements);
    const flat = v.vsSmallest === undefined ? 'reference' : `${signedPercent(v.vsSmallest)} ${mark(v.flat!)}`;
    lines.push(`| ${operationName(m)} | ${size(m.bytes)} | ${mib(m.plain.maxRss)} | ${mib(m.s3crypt.maxRss)} | ${signedMib(v.extra)} | ${mib(m.budget, 1)} (${m.budgetWhy}) | ${mark(v.withinBudget)} | ${flat} |`);
  }
  lines.push('', 'Where the sampled peak was (every 50 ms; maxRSS above is the kernel high-water mark):', '', '| operation | size | client | start RSS | sampled peak | at |', '|---|---|---|---|---|---|');
  for (const m of ordered(measurements)) {
    for (const [client, r] of [['plain', m.plain], ['s3crypt', m.s3crypt]] as const) {
      lines.push(`| ${m.operation.toUpperCase()}, ${m.variant} | ${size(m.bytes)} | ${client} | ${mib(r.startRss)} | ${mib(r.peak.rss)} | ${where(r)} |`);
    }
  }
  return lines.join('\n');
}

/** `--name value` or `--name=value`. */
function option(argv: readonly string[], name: string): string | undefined {
  const inline = argv.find((arg) => arg.startsWith(`${name}=`));
  if (inline) return inline.slice(name.length + 1);
  const at = argv.indexOf(name);
  if (at < 0) return undefined;
  const value = argv[at + 1];
  if (value === undefined) throw new TypeError(`${name} needs a value`);
  return value;
}

const sizesFromArgs = (argv: readonly string[]) => {
  const value = option(argv, '--sizes');
  return value === undefined ? DEFAULT_SIZES : parseSizes(value);
};

function variantsFromArgs(argv: readonly string[]): Variant[] {
  const value = option(argv, '--variants') ?? VARIANTS.join(',');
  const variants = value.split(',');
  for (const variant of variants) if (!VARIANTS.includes(variant as Variant)) throw new TypeError(`--variants: "${variant}" is not one of ${VARIANTS.join(', ')}`);
  return variants as Variant[];
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const sizes = sizesFromArgs(process.argv.slice(2));
  const existing = endpointFromEnv();
  const minio = existing ? undefined : await startMinio();
  const endpoint = existing ?? minio!.endpoint;
  let measurements: MemoryMeasurement[];
  try {
    const bucket = `bench-memory-${Date.now()}`;
    const admin = s3Client(endpoint);
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    admin.destroy();
    measurements = await measureMemory(endpoint, bucket, sizes, variantsFromArgs(process.argv.slice(2)), (line) => console.error(line));
  } finally {
    await minio?.server.stop();
  }
  console.log(`node ${process.version}, ${cpus().length} cores, ${mib(totalmem())} RAM; ${size(PART_SIZE)} parts × ${QUEUE_SIZE} in flight, segment ${mib(DEFAULT_SEGMENT_SIZE, 2)}\n`);
  console.log(detailedTable(measurements));
}
