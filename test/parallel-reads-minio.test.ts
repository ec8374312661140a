// Parallel reads (several ranged GETs in flight, opened on worker threads, delivered in order)
// against the real MinIO of test/harness/global-setup.ts, through the hostile-store proxy where the
// store has to lie or be watched. The reference for every byte is the single-GET read of the same
// object by the same client.
import { GetObjectCommand, PutObjectCommand, type GetObjectCommandInput, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { EncryptingS3Client, RawAesKeyring, S3CryptError, withS3Crypt, type ParallelReadClientOptions } from '@s3crypt/client';
import { markedBytes } from './harness/clients.js';
import { appendBytes, setContentRangeTotal, startHostileStore, type HostileStore } from './harness/hostile-store.js';
import { freshBucket, s3Client } from './harness/minio.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SEGMENT = 64 * KiB;
const SEALED_SEGMENT = SEGMENT + 16;
// Three sealed segments per ranged GET: many ranges from objects of a few MiB.
const RANGE = 3 * SEALED_SEGMENT;

let store: HostileStore;
let direct: S3Client;
let bucket: string;
const keyring = new RawAesKeyring({ keyName: 'parallel', masterKey: randomBytes(32) });
const clients: EncryptingS3Client[] = [];

function client(parallelReads?: boolean | ParallelReadClientOptions): EncryptingS3Client {
  const made = new EncryptingS3Client({ client: s3Client(store.endpoint), keyring, segmentSize: SEGMENT, ...(parallelReads === undefined ? {} : { parallelReads }) });
  clients.push(made);
  return made;
}

const SMALL_OBJECT = markedBytes(3 * MiB + 12_345, 3);
const MULTIPART_OBJECT = markedBytes(5 * MiB + 7 + 5 * MiB + 999_999, 4);

beforeAll(async () => {
  store = await startHostileStore(inject('s3'));
  direct = s3Client(inject('s3'));
  bucket = await freshBucket(direct, 'parallel');
  const writer = client();
  await writer.send(new PutObjectCommand({ Bucket: bucket, Key: 'single', Body: SMALL_OBJECT }));
  // Parts of uneven sizes: segment runs cross part boundaries inside one range.
  await new Upload({ client: writer, params: { Bucket: bucket, Key: 'multipart', Body: MULTIPART_OBJECT }, partSize: 5 * MiB + 7, queueSize: 2 }).done();
});
afterEach(() => store.reset());
afterAll(async () => {
  for (const made of clients) made.destroy();
  direct.destroy();
  await store.stop();
});

async function read(from: S3Client, input: Partial<GetObjectCommandInput> & { Key: string }, parallelReads?: boolean): Promise<Buffer> {
  const command = new GetObjectCommand({ Bucket: bucket, ...input });
  const response = await from.send(parallelReads === undefined ? command : withS3Crypt(command, { parallelReads }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

/** Ranged GETs of the object's data (not its first, tail read). */
const dataGets = (key: string) => store.requests.filter((r) => r.method === 'GET' && r.key === key && r.range !== undefined && !r.range.startsWith('bytes=-'));

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(S3CryptError);
  return (error as S3CryptError).code;
}

describe('the same bytes as one GET', () => {
  for (const workers of [0, 2]) {
    it(`whole objects, single PUT and multipart, ${workers} workers`, async () => {
      const parallel = client({ rangeSize: RANGE, concurrency: 3, minSize: 0, workers });
      for (const [key, data] of [['single', SMALL_OBJECT], ['multipart', MULTIPART_OBJECT]] as const) {
        store.reset();
        const body = await read(parallel, { Key: key });
        expect(body.equals(data)).toBe(true);
        // Everything before the tail, in ranges of whole segments, each asked once.
        const ranges = dataGets(key).map((r) => r.range);
        expect(ranges.length).toBeGreaterThan(5);
        expect(new Set(ranges).size).toBe(ranges.length);
        for (const range of ranges) {
          const [start, end] = range!.slice('bytes='.length).split('-').map(Number) as [number, number];
          expect(end - start + 1).toBeLessThanOrEqual(RANGE);
        }
      }
    });

    it(`ranges and part numbers, ${workers} workers`, async () => {
      const parallel = client({ rangeSize: RANGE, concurrency: 2, minSize: 0, workers });
      const single = client();
      const cases: Array<Partial<GetObjectCommandInput>> = [
        { Range: 'bytes=1-4000000' },
        { Range: `bytes=${5 * MiB}-${5 * MiB + 20}` },
        { Range: 'bytes=100000-' },
        { Range: 'bytes=-3000000' },
        { PartNumber: 2 },
        { PartNumber: 1 },
      ];
      for (const extra of cases) {
        const ours = await read(parallel, { Key: 'multipart', ...extra });
        expect(ours.equals(await read(single, { Key: 'multipart', ...extra }))).toBe(true);
      }
    });
  }

  it('is off unless the client or the request asks for it, and a request can turn it off', async () => {
    const off = client();
    await read(off, { Key: 'single' });
    expect(dataGets('single')).toHaveLength(1);
    store.reset();
    expect((await read(off, { Key: 'single' }, true)).equals(SMALL_OBJECT)).toBe(true);
    // Default settings: 8 MiB ranges, at least 16 MiB to split; a 3 MiB object stays one GET.
    expect(dataGets('single')).toHaveLength(1);
    store.reset();
    const on = client({ rangeSize: RANGE, minSize: 0 });
    await read(on, { Key: 'single' }, false);
    expect(dataGets('single')).toHaveLength(1);
    store.reset();
    await read(on, { Key: 'single' });
    expect(dataGets('single').length).toBeGreaterThan(1);
  });

  it('reads below minSize stay one GET', async () => {
    const parallel = client({ rangeSize: RANGE, minSize: 4 * MiB });
    expect((await read(parallel, { Key: 'single' })).equals(SMALL_OBJECT)).toBe(true);
    expect(dataGets('single')).toHaveLength(1);
  });
});

describe('memory and flow', () => {
  it('keeps at most `concurrency` ranges in flight while the reader does not read', async () => {
    const parallel = client({ rangeSize: RANGE, concurrency: 3, minSize: 0 });
    const response = await parallel.send(new GetObjectCommand({ Bucket: bucket, Key: 'multipart' }));
    // Wait until the client stops asking: it must stop at the bound, not fetch the object.
    let seen = -1;
    while (dataGets('multipart').length !== seen) {
      seen = dataGets('multipart').length;
      await sleep(300);
    }
    expect(seen).toBeGreaterThanOrEqual(3);
    expect(seen).toBeLessThanOrEqual(3 + 1);
    const body = Buffer.from(await response.Body!.transformToByteArray());
    expect(body.equals(MULTIPART_OBJECT)).toBe(true);
  });

  it('a reader that calls read() (for await) gets one decrypted piece at a time, not a range joined into a new buffer', async () => {
    for (const workers of [0, 1]) {
      const parallel = client({ rangeSize: RANGE, concurrency: 2, minSize: 0, workers });
      const response = await parallel.send(new GetObjectCommand({ Bucket: bucket, Key: 'multipart' }));
      const sizes: number[] = [];
      const chunks: Buffer[] = [];
      for await (const chunk of response.Body as Readable) {
        sizes.push(chunk.length);
        chunks.push(chunk as Buffer);
      }
      expect(Buffer.concat(chunks).equals(MULTIPART_OBJECT)).toBe(true);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(SEGMENT);
    }
  });

  it('a reader that stops early aborts what is in flight and asks for nothing more', async () => {
    const parallel = client({ rangeSize: RANGE, concurrency: 3, minSize: 0 });
    const response = await parallel.send(new GetObjectCommand({ Bucket: bucket, Key: 'multipart' }));
    const body = response.Body as Readable;
    for await (const chunk of body) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    await sleep(300);
    const asked = dataGets('multipart').length;
    await sleep(300);
    expect(dataGets('multipart').length).toBe(asked);
    expect(asked).toBeLessThan(10 * MiB / RANGE);
  });

  it("the caller's abort signal stops the read", async () => {
    const parallel = client({ rangeSize: RANGE, concurrency: 2, minSize: 0 });
    const controller = new AbortController();
    const response = await parallel.send(new GetObjectCommand({ Bucket: bucket, Key: 'multipart' }), { abortSignal: controller.signal });
    const body = response.Body as Readable;
    const chunks: Buffer[] = [];
    const error = await (async () => {
      for await (const chunk of body) {
        chunks.push(chunk as Buffer);
        if (chunks.length === 1) controller.abort();
      }
    })().then(() => undefined, (e: unknown) => e);
    expect((error as Error | undefined)?.name).toBe('AbortError');
    expect(Buffer.concat(chunks).equals(MULTIPART_OBJECT.subarray(0, Buffer.concat(chunks).length))).toBe(true);
    expect(Buffer.concat(chunks).length).toBeLessThan(MULTIPART_OBJECT.length);
  });
});

describe('a hostile store', () => {
  /** A new object of `data` whose stored bytes the store then rewrites with one byte flipped at `offset`. */
  async function storedWithFlip(data: Buffer, offset: number): Promise<string> {
    const key = `flipped-${offset}-${data.length}`;
    await new Upload({ client: client(), params: { Bucket: bucket, Key: key, Body: data }, partSize: 5 * MiB + 7 }).done();
    const original = await direct.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = Buffer.from(await original.Body!.transformToByteArray());
    bytes[offset]! ^= 1;
    await direct.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, Metadata: original.Metadata }));
    return key;
  }

  for (const workers of [0, 1]) {
    it(`a flipped byte in a later range ends the stream after the ranges before it, ${workers} workers`, async () => {
      const parallel = client({ rangeSize: RANGE, concurrency: 3, minSize: 0, workers });
      // In the 6th range: five whole ranges are authentic and may be delivered, nothing after.
      const flippedAt = 5 * RANGE + 1000;
      const key = await storedWithFlip(MULTIPART_OBJECT, flippedAt);
      const response = await parallel.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const chunks: Buffer[] = [];
      const error = await (async () => {
        for await (const chunk of response.Body as Readable) chunks.push(chunk as Buffer);
      })().then(() => undefined, (e: unknown) => e);
      expect((error as S3CryptError).code).toBe('ERR_DECRYPTION_FAILED');
      expect((error as Error).message).toContain(key);
      const delivered = Buffer.concat(chunks);
      expect(delivered.length).toBe(5 * 3 * SEGMENT);
      expect(delivered.equals(MULTIPART_OBJECT.subarray(0, delivered.length))).toBe(true);
    });

    it(`a flipped byte in the first range fails GetObject itself, ${workers} workers`, async () => {
      const parallel = client({ rangeSize: RANGE, concurrency: 3, minSize: 0, workers });
      const key = await storedWithFlip(SMALL_OBJECT, 10);
      expect(await codeOf(parallel.send(new GetObjectCommand({ Bucket: bucket, Key: key })))).toBe('ERR_DECRYPTION_FAILED');
    });
  }

  it('a ranged answer with more bytes than asked, or another range, is refused', async () => {
    const parallel = client({ rangeSize: RANGE, concurrency: 2, minSize: 0 });
    store.onResponse({ method: 'GET', key: 'single', range: `bytes=0-${RANGE - 1}` }, appendBytes(Buffer.alloc(16)));
    expect(await codeOf(read(parallel, { Key: 'single' }))).toBe('ERR_RESPONSE_TOO_LARGE');
    store.reset();
    store.onResponse({ method: 'GET', key: 'single', range: `bytes=${RANGE}-${2 * RANGE - 1}` }, setContentRangeTotal(1));
    expect(await codeOf(read(parallel, { Key: 'single' }))).toBe('ERR_OBJECT_MALFORMED');
  });

  it('an object replaced after its first range was read fails the stream; before, the read starts over on the new one', async () => {
    const parallel = client({ rangeSize: RANGE, concurrency: 1, minSize: 0 });
    const writer = client();
    await writer.send(new PutObjectCommand({ Bucket: bucket, Key: 'replaced', Body: SMALL_OBJECT }));
    const response = await parallel.send(new GetObjectCommand({ Bucket: bucket, Key: 'replaced' }));
    const replacement = markedBytes(SMALL_OBJECT.length, 99);
    await writer.send(new PutObjectCommand({ Bucket: bucket, Key: 'replaced', Body: replacement }));
    const chunks: Buffer[] = [];
    const error = await (async () => {
      for await (const chunk of response.Body as Readable) chunks.push(chunk as Buffer);
    })().then(() => undefined, (e: unknown) => e);
    expect((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(412);
    const delivered = Buffer.concat(chunks);
    expect(delivered.equals(SMALL_OBJECT.subarray(0, delivered.length))).toBe(true);
    expect(delivered.length).toBeLessThan(SMALL_OBJECT.length);
    // Replaced between the tail read and the first range: the read restarts and returns the new object.
    let replaced = false;
    store.onResponse({ method: 'GET', key: 'replaced', range: /^bytes=-/ }, async () => {
      if (!replaced) {
        replaced = true;
        await direct.send(new PutObjectCommand({ Bucket: bucket, Key: 'replaced', Body: Buffer.from('x') }));
      }
      return undefined;
    });
    await writer.send(new PutObjectCommand({ Bucket: bucket, Key: 'replaced', Body: SMALL_OBJECT }));
    replaced = false;
    expect(await codeOf(read(parallel, { Key: 'replaced' }))).toBe('ERR_NOT_ENCRYPTED');
  });
});

describe('options', () => {
  it('are checked', () => {
    const make = (parallelReads: unknown) => () => new EncryptingS3Client({ client: direct, keyring, parallelReads: parallelReads as never });
    expect(make('yes')).toThrow(/parallelReads must be a boolean or an object/);
    expect(make({ rangeSize: 0 })).toThrow(/rangeSize must be an integer/);
    expect(make({ concurrency: 1.5 })).toThrow(/concurrency must be an integer/);
    expect(make({ workers: -1 })).toThrow(/workers must be an integer from 0/);
    expect(() => withS3Crypt(new GetObjectCommand({ Bucket: 'b', Key: 'k' }), { parallelReads: { workers: 2 } as never })).toThrow(/workers is a client option/);
    expect(() => withS3Crypt(new GetObjectCommand({ Bucket: 'b', Key: 'k' }), { parallelReads: { concurrency: 0 } })).toThrow(/concurrency must be an integer/);
  });
});
