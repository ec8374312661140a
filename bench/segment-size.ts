// npm run bench:segments: format-only benchmark of the segment size, to choose format v2's default
// (docs/PERFORMANCE.md, "Segment size"). No S3 server: 256 MiB held in memory is sealed and opened
// at each size, against raw node:crypto AES-256-GCM doing the same work, and the cost of small ranged
// reads is computed from the read planner. Not a test: it asserts nothing and never runs in CI.
// Prints two Markdown tables, then the same figures as one line of JSON.
// BENCH_RUNS (default 7) sets how many interleaved runs each median is taken over; run with
// --expose-gc so each measurement starts with the previous one's garbage collected.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { Readable } from 'node:stream';
import { TAIL_FETCH_LENGTH } from '../packages/client/src/client/read-object.js';
import { objectLayout, planRead, type ObjectLayout } from '../packages/client/src/format/layout.js';
import { newSuiteParameters, sealObjectStream } from '../packages/client/src/format/object.js';
import { SegmentOpener } from '../packages/client/src/format/open-stream.js';
import { sealPart, segmentNonce } from '../packages/client/src/format/segments.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TAG = 16;
const TOTAL = 256 * MiB;
/** What a file read or a socket hands over at a time. */
const CHUNK = 64 * KiB;
const SEGMENT_SIZES = [64 * KiB, 128 * KiB, 256 * KiB, 512 * KiB, 1 * MiB, 4 * MiB];
const RUNS = Number(process.env.BENCH_RUNS ?? 7);

interface Sample {
  ms: number;
  cpuMs: number;
}

/** Set with --expose-gc (the npm script does). */
const collectGarbage = (globalThis as { gc?: () => void }).gc;

async function measure(fn: () => unknown): Promise<Sample> {
  // The previous variant's garbage is collected now, so its GC time is not billed to this one.
  collectGarbage?.();
  const cpu = process.cpuUsage();
  const start = performance.now();
  await fn();
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { ms, cpuMs: (used.user + used.system) / 1000 };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function* chunks(bytes: Buffer, size = CHUNK): Generator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}

const key = randomBytes(32);
const dataKey = randomBytes(32);
const plaintext = randomBytes(TOTAL);
const floorNonce = randomBytes(12);
const [floorCiphertext, floorTag] = (() => {
  const cipher = createCipheriv('aes-256-gcm', key, floorNonce);
  const out = Buffer.concat([...chunks(plaintext)].map((piece) => cipher.update(piece)));
  cipher.final();
  return [out, cipher.getAuthTag()];
})();

/** The floor: one cipher object over all 256 MiB, fed in socket-sized chunks, output discarded. */
function sealOneCipher(): void {
  const cipher = createCipheriv('aes-256-gcm', key, floorNonce);
  for (const piece of chunks(plaintext)) cipher.update(piece);
  cipher.final();
  cipher.getAuthTag();
}
function openOneCipher(): void {
  const decipher = createDecipheriv('aes-256-gcm', key, floorNonce);
  decipher.setAuthTag(floorTag);
  for (const piece of chunks(floorCiphertext)) decipher.update(piece);
  decipher.final();
}

/** Raw GCM with s3crypt's segmentation (one cipher object per segment) but none of its bookkeeping. */
function sealPerSegment(segmentSize: number): void {
  const count = Math.ceil(TOTAL / segmentSize);
  for (let index = 0; index < count; index++) {
    const cipher = createCipheriv('aes-256-gcm', key, segmentNonce(index, index === count - 1));
    for (const piece of chunks(plaintext.subarray(index * segmentSize, (index + 1) * segmentSize))) cipher.update(piece);
    cipher.final();
    cipher.getAuthTag();
  }
}
function openPerSegment(sealed: Buffer, segmentSize: number): void {
  const count = Math.ceil(TOTAL / segmentSize);
  for (let index = 0, offset = 0; index < count; index++, offset += segmentSize + TAG) {
    const end = Math.min(offset + segmentSize + TAG, sealed.length);
    const decipher = createDecipheriv('aes-256-gcm', key, segmentNonce(index, index === count - 1));
    decipher.setAuthTag(sealed.subarray(end - TAG, end));
    for (const piece of chunks(sealed.subarray(offset, end - TAG))) decipher.update(piece);
    decipher.final();
  }
}

/** s3crypt's streamed PUT path: the source delivers 64 KiB chunks, segments are cut from them. */
async function sealStreamed(segmentSize: number): Promise<void> {
  const source = Readable.from(chunks(plaintext));
  const sealed = sealObjectStream(dataKey, newSuiteParameters(segmentSize), source, TOTAL, () => new Error('length mismatch'));
  for await (const _ of sealed) void _;
}

/** s3crypt's GET path: sealed bytes pushed into a SegmentOpener in 64 KiB chunks, as a socket would. */
function openStreamed(sealed: Buffer, layout: ObjectLayout): void {
  const opener = new SegmentOpener(planRead(layout, 0, TOTAL, true).segments(), () => key);
  for (const piece of chunks(sealed)) opener.push(piece);
  opener.end();
}

const measures = ['sealOurs', 'sealPerSegment', 'sealOneCipher', 'openOurs', 'openPerSegment', 'openOneCipher'] as const;
type Measure = (typeof measures)[number];

interface SizeUnderTest {
  segmentSize: number;
  layout: ObjectLayout;
  sealed: Buffer;
  samples: Record<Measure, Sample[]>;
}

const underTest: SizeUnderTest[] = SEGMENT_SIZES.map((segmentSize) => ({
  segmentSize,
  layout: objectLayout([{ partNumber: 1, length: TOTAL, salt: Buffer.alloc(16) }], segmentSize),
  sealed: sealPart(key, plaintext, segmentSize),
  samples: Object.fromEntries(measures.map((name) => [name, []])) as unknown as Record<Measure, Sample[]>,
}));

async function throughputRun(run: number): Promise<void> {
  // Sizes and the order of variants rotate between runs so drift on a shared machine hits all alike.
  for (let i = 0; i < underTest.length; i++) {
    const size = underTest[(i + run) % underTest.length]!;
    const variants: [Measure, () => unknown][] = [
      ['sealOurs', () => sealStreamed(size.segmentSize)],
      ['sealPerSegment', () => sealPerSegment(size.segmentSize)],
      ['sealOneCipher', sealOneCipher],
      ['openOurs', () => openStreamed(size.sealed, size.layout)],
      ['openPerSegment', () => openPerSegment(size.sealed, size.segmentSize)],
      ['openOneCipher', openOneCipher],
    ];
    if (run % 2) variants.reverse();
    for (const [name, fn] of variants) size.samples[name].push(await measure(fn));
  }
}

/** What get-object does: one 256 KiB suffix GET, then one ranged GET for whatever the tail lacks. */
function rangedReadCost(layout: ObjectLayout, start: number, end: number) {
  const plan = planRead(layout, start, end);
  const tailLength = Math.min(TAIL_FETCH_LENGTH, layout.totalLength);
  const tailOffset = layout.totalLength - tailLength;
  const beforeTail = plan.cipherStart >= tailOffset ? 0 : Math.min(plan.cipherEnd, tailOffset) - plan.cipherStart;
  return { plan, requests: beforeTail > 0 ? 2 : 1, segmentBytes: plan.cipherEnd - plan.cipherStart, fetchedBytes: tailLength + beforeTail };
}

/** Median microseconds to open (decrypt and authenticate) the segments a ranged read needs. */
function authenticateMicros(size: SizeUnderTest, start: number, end: number): number {
  const { plan } = rangedReadCost(size.layout, start, end);
  const stored = size.sealed.subarray(plan.cipherStart, plan.cipherEnd);
  const repeat = Math.max(20, Math.ceil((32 * MiB) / stored.length));
  const perRun: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const began = performance.now();
    for (let i = 0; i < repeat; i++) {
      const opener = new SegmentOpener(plan.segments(), () => key);
      for (const piece of chunks(stored)) opener.push(piece);
      opener.end();
    }
    perRun.push(((performance.now() - began) * 1000) / repeat);
  }
  return median(perRun);
}

function rangedReads(size: SizeUnderTest) {
  const { segmentSize, layout } = size;
  // Well inside the object, far from the tail: the common case of a random small read.
  const middle = Math.floor(TOTAL / 2 / segmentSize) * segmentSize + 1000;
  const smallObject = objectLayout([{ partNumber: 1, length: 1 * MiB, salt: Buffer.alloc(16) }], segmentSize);
  const cost = (of: ObjectLayout, start: number, end: number) => {
    const { requests, segmentBytes, fetchedBytes } = rangedReadCost(of, start, end);
    return { requests, segmentBytes, fetchedBytes };
  };
  const boundary = (Math.floor(TOTAL / 2 / segmentSize) + 1) * segmentSize;
  return {
    oneByte: { ...cost(layout, middle, middle + 1), authenticateMicros: authenticateMicros(size, middle, middle + 1) },
    fourKiB: { ...cost(layout, middle, middle + 4 * KiB), authenticateMicros: authenticateMicros(size, middle, middle + 4 * KiB) },
    fourKiBAcrossBoundary: cost(layout, boundary - 2 * KiB, boundary + 2 * KiB),
    firstByteOf1MiBObject: cost(smallObject, 0, 1),
  };
}

const mibps = (ms: number) => (TOTAL / MiB / (ms / 1000));
const kib = (bytes: number) => `${(bytes / KiB).toFixed(0)} KiB`;

for (let run = 0; run < RUNS; run++) await throughputRun(run);
const results = underTest.map((size) => {
  const ms = (name: Measure) => median(size.samples[name].map((sample) => sample.ms));
  const cpuSecondsPerGiB = (name: Measure) => median(size.samples[name].map((sample) => sample.cpuMs)) / 1000 / (TOTAL / GiB);
  // Each ratio pairs ours with the baseline measured next to it in the same run, then takes the median.
  const ratio = (ours: Measure, baseline: Measure) => median(size.samples[ours].map((sample, run) => size.samples[baseline][run]!.ms / sample.ms));
  return {
    segmentSize: size.segmentSize,
    sealMiBps: mibps(ms('sealOurs')),
    sealPerSegmentMiBps: mibps(ms('sealPerSegment')),
    sealOneCipherMiBps: mibps(ms('sealOneCipher')),
    openMiBps: mibps(ms('openOurs')),
    openPerSegmentMiBps: mibps(ms('openPerSegment')),
    openOneCipherMiBps: mibps(ms('openOneCipher')),
    sealVsPerSegment: ratio('sealOurs', 'sealPerSegment'),
    sealVsOneCipher: ratio('sealOurs', 'sealOneCipher'),
    openVsPerSegment: ratio('openOurs', 'openPerSegment'),
    openVsOneCipher: ratio('openOurs', 'openOneCipher'),
    openCpuSecondsPerGiB: cpuSecondsPerGiB('openOurs'),
    openOneCipherCpuSecondsPerGiB: cpuSecondsPerGiB('openOneCipher'),
    rangedReads: rangedReads(size),
    /** Every run's wall time per variant, so the spread behind each median stays visible. */
    samplesMs: Object.fromEntries(measures.map((name) => [name, size.samples[name].map((sample) => Math.round(sample.ms))])),
  };
});

const machine = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / GiB), runs: RUNS };
const percent = (ratio: number) => `${(ratio * 100).toFixed(0)}%`;
console.log(`node ${machine.node}, ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB; median of ${RUNS} runs over ${TOTAL / MiB} MiB\n`);
console.log('| segment | seal MiB/s | vs per-segment GCM | vs one GCM | open MiB/s | vs per-segment GCM | vs one GCM | open CPU s/GiB (one GCM) |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of results) {
  console.log(
    `| ${kib(r.segmentSize)} | ${r.sealMiBps.toFixed(0)} | ${percent(r.sealVsPerSegment)} | ${percent(r.sealVsOneCipher)} ` +
      `| ${r.openMiBps.toFixed(0)} | ${percent(r.openVsPerSegment)} | ${percent(r.openVsOneCipher)} ` +
      `| ${r.openCpuSecondsPerGiB.toFixed(3)} (${r.openOneCipherCpuSecondsPerGiB.toFixed(3)}) |`,
  );
}
console.log('\n| segment | 1 B read: fetched (requests) | open µs | 4 KiB read: fetched | open µs | 4 KiB across a boundary: fetched | 1st byte of a 1 MiB object: fetched (requests) |');
console.log('|---|---|---|---|---|---|---|');
for (const r of results) {
  const { oneByte, fourKiB, fourKiBAcrossBoundary, firstByteOf1MiBObject: small } = r.rangedReads;
  console.log(
    `| ${kib(r.segmentSize)} | ${kib(oneByte.fetchedBytes)} (${oneByte.requests}) | ${oneByte.authenticateMicros.toFixed(0)} ` +
      `| ${kib(fourKiB.fetchedBytes)} | ${fourKiB.authenticateMicros.toFixed(0)} | ${kib(fourKiBAcrossBoundary.fetchedBytes)} ` +
      `| ${kib(small.fetchedBytes)} (${small.requests}) |`,
  );
}
console.log(`\n${JSON.stringify({ machine, totalBytes: TOTAL, chunkBytes: CHUNK, tailFetchBytes: TAIL_FETCH_LENGTH, results })}`);
