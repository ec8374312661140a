// Child process of bench/memory.ts: one measurement (one PUT or one GET, plain or s3crypt) in a fresh
// process, so each peak RSS is its own. Reads its job from the MEMORY_JOB environment variable (JSON,
// see MemoryJob) and prints one line of JSON (MemoryResult). Both clients are loaded in every mode, so
// module code weighs the same on both sides of a comparison.
import { readFileSync } from 'node:fs';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { EncryptingS3Client, RawAesKeyring } from '@s3crypt/client';
import { s3Client, type S3Endpoint } from '../test/harness/minio.js';
import { generated } from './data.js';

export interface MemoryJob {
  readonly endpoint: S3Endpoint;
  readonly bucket: string;
  readonly key: string;
  readonly operation: 'put' | 'get';
  /** `s3crypt-parallel`: GetObject with parallel reads (the client's defaults: 4 ranges of 8 MiB in flight). */
  readonly client: 'plain' | 's3crypt' | 's3crypt-parallel';
  readonly bytes: number;
  readonly partSize: number;
  readonly queueSize: number;
  /** Hex master key of the RawAesKeyring (random per bench run), so the GET child opens what the PUT child wrote. */
  readonly masterKeyHex: string;
  /** With --expose-gc: collect garbage after every this many bytes, so the peak shows what is live, not what V8 has yet to collect. */
  readonly gcEvery?: number;
}

/** One sample of process.memoryUsage(), with how far the transfer had got. */
export interface MemorySample {
  readonly rss: number;
  readonly heapTotal: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /** Bytes of the transfer done when sampled (PUT: handed to lib-storage; GET: drained). */
  readonly done: number;
}

export interface MemoryResult {
  /**
   * The kernel's high-water mark of this process's RSS (VmHWM), which sampling can miss. Not
   * resourceUsage().maxRSS: Linux carries that over from the parent across fork and exec, so a
   * child of a large parent would report the parent's size.
   */
  readonly maxRss: number;
  /** RSS once everything is loaded and before the transfer starts. */
  readonly startRss: number;
  /** The sample with the highest RSS. */
  readonly peak: MemorySample;
  readonly bytes: number;
  readonly ms: number;
}

/** What a pipe hands over at a time (the Linux pipe buffer). */
const PIPE_CHUNK = 64 * 1024;
const SAMPLE_MS = 50;

/** `bytes` of generated data as a byte stream of unknown length in pipe-sized chunks, as `cmd | upload` would give. */
function pipeLike(bytes: number, progress: (n: number) => void): Readable {
  function* chunks(): Generator<Buffer> {
    for (const block of generated(bytes)) {
      for (let offset = 0; offset < block.length; offset += PIPE_CHUNK) {
        const chunk = block.subarray(offset, offset + PIPE_CHUNK);
        progress(chunk.length);
        yield chunk;
      }
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}

const job = JSON.parse(process.env.MEMORY_JOB ?? '') as MemoryJob;
const plain = s3Client(job.endpoint);
const masterKey = Buffer.from(job.masterKeyHex, 'hex');
const client =
  job.client === 'plain' ? plain : new EncryptingS3Client({ client: plain, keyring: new RawAesKeyring({ keyName: 'bench', masterKey }), parallelReads: job.client === 's3crypt-parallel' });

let done = 0;
const collectGarbage = (globalThis as { gc?: () => void }).gc;
let nextGc = job.gcEvery ?? Infinity;
const progress = (n: number) => {
  done += n;
  if (done < nextGc) return;
  nextGc = done + job.gcEvery!;
  collectGarbage?.();
};
const sample = (): MemorySample => ({ ...process.memoryUsage(), done });
collectGarbage?.(); // startup garbage (module compilation) out of the baseline
const startRss = process.memoryUsage().rss;
let peak = sample();
const sampler = setInterval(() => {
  const now = sample();
  if (now.rss > peak.rss) peak = now;
}, SAMPLE_MS);
const started = performance.now();
try {
  if (job.operation === 'put') {
    const Body = pipeLike(job.bytes, progress);
    await new Upload({ client, params: { Bucket: job.bucket, Key: job.key, Body }, partSize: job.partSize, queueSize: job.queueSize }).done();
  } else {
    const { Body } = await client.send(new GetObjectCommand({ Bucket: job.bucket, Key: job.key }));
    for await (const chunk of Body as AsyncIterable<Uint8Array>) progress(chunk.length);
  }
} finally {
  clearInterval(sampler);
  if (job.client !== 'plain') (client as EncryptingS3Client).destroy();
}
if (done !== job.bytes) throw new Error(`${job.operation} moved ${done} bytes, not ${job.bytes}`);
const vmHwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
const result: MemoryResult = { maxRss: Number(vmHwm![1]) * 1024, startRss, peak, bytes: done, ms: performance.now() - started };
console.log(JSON.stringify(result));
