// The streaming examples (examples/etl-csv.ts, upload-progress.ts, http-service.ts), run against
// the test MinIO so they cannot go stale.
import { GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EncryptingS3Client, RawAesKeyring } from '@s3crypt/client';
import { runEtl } from '../examples/etl-csv.js';
import { buildFileService } from '../examples/http-service.js';
import { uploadWithProgress } from '../examples/upload-progress.js';
import { getBody, markedBytes, MARKER } from './harness/clients.js';
import { freshBucket, s3Client } from './harness/minio.js';

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');
const newKeyring = () => new RawAesKeyring({ keyName: 'examples-key', masterKey: randomBytes(32) });

let s3: S3Client;
beforeAll(() => {
  s3 = s3Client(inject('s3'));
});

/** Flips one stored byte at `offset`, keeping the envelope: what a hostile store or bit rot does. */
async function tamper(bucket: string, key: string, offset: number): Promise<void> {
  const stored = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = Buffer.from(await stored.Body!.transformToByteArray());
  bytes[offset]! ^= 0x01;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, Metadata: stored.Metadata }));
}

describe('examples/etl-csv.ts', () => {
  const COUNTRIES = ['de', 'fr', 'it', 'es'];
  const row = (i: number) => ({ id: `order-${i}`, email: `customer${i}@example.com`, country: COUNTRIES[i % 4]!, cents: (i * 7919) % 1_000_000, paid: i % 3 !== 0 });
  function* inputLines(rows: number): Generator<string> {
    yield 'order_id,customer_email,country,amount_cents,status\n';
    for (let i = 0; i < rows; i++) {
      const r = row(i);
      yield `${r.id},${r.email},${r.country},${r.cents},${r.paid ? 'paid' : 'refunded'}\n`;
    }
  }

  it('streams an encrypted CSV of several parts through the transform into an encrypted result', async () => {
    const bucket = await freshBucket(s3, 'ex-etl');
    const keyring = newKeyring();
    const rows = 450_000; // about 25 MiB in (five parts), 7 MiB out (two parts)
    await new Upload({ client: new EncryptingS3Client({ client: s3, keyring }), params: { Bucket: bucket, Key: 'in/orders.csv', Body: Readable.from(inputLines(rows)) } }).done();

    const result = await runEtl(s3, keyring, { bucket, key: 'in/orders.csv' }, { bucket, key: 'out/paid.csv' });

    let expected = 'order_id,country,amount\n';
    let paid = 0;
    for (let i = 0; i < rows; i++) {
      const r = row(i);
      if (!r.paid) continue;
      paid++;
      expected += `${r.id},${r.country},${(r.cents / 100).toFixed(2)}\n`;
    }
    expect(result).toEqual({ rowsIn: rows, rowsOut: paid });
    const output = await getBody(new EncryptingS3Client({ client: s3, keyring }), bucket, 'out/paid.csv');
    expect(output.length).toBeGreaterThan(5 * MiB);
    expect(sha256(output)).toBe(sha256(expected));
    expect(output.includes('@example.com')).toBe(false);
    // The store holds ciphertext only.
    expect((await getBody(s3, bucket, 'out/paid.csv')).includes('order-1,')).toBe(false);
  });

  it('fails on a tampered source and leaves no result behind', async () => {
    const bucket = await freshBucket(s3, 'ex-etl-tampered');
    const keyring = newKeyring();
    await new Upload({ client: new EncryptingS3Client({ client: s3, keyring }), params: { Bucket: bucket, Key: 'orders.csv', Body: Readable.from(inputLines(20_000)) } }).done();
    await tamper(bucket, 'orders.csv', 70_000); // the second segment

    await expect(runEtl(s3, keyring, { bucket, key: 'orders.csv' }, { bucket, key: 'paid.csv' })).rejects.toMatchObject({ code: 'ERR_DECRYPTION_FAILED' });
    await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'paid.csv' }))).rejects.toMatchObject({ name: 'NotFound' });
  });
});

describe('examples/upload-progress.ts', () => {
  it('reports plaintext byte counts per stored part, up to the plaintext size', async () => {
    const bucket = await freshBucket(s3, 'ex-progress');
    const keyring = newKeyring();
    const data = markedBytes(12 * MiB + 4321, 3);
    const lines: string[] = [];
    const events = await uploadWithProgress(s3, keyring, { bucket, key: 'big.bin', size: data.length }, Readable.from([data]), (line) => lines.push(line));

    expect(events.map((event) => event.part).sort()).toEqual([1, 2, 3]);
    const loaded = events.map((event) => event.loaded ?? 0);
    expect(loaded).toEqual([...loaded].sort((a, b) => a - b));
    expect(loaded.at(-1)).toBe(data.length); // plaintext, not the (larger) stored ciphertext
    expect(events.every((event) => event.total === data.length)).toBe(true);
    expect(lines.at(-1)).toBe(`big.bin: part ${events.at(-1)!.part} stored, ${data.length} of ${data.length} bytes (100%)`);
    const stored = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big.bin' }));
    expect(stored.ContentLength).toBeGreaterThan(data.length);
    expect((await getBody(new EncryptingS3Client({ client: s3, keyring }), bucket, 'big.bin')).equals(data)).toBe(true);
  });

  it('without a known size, reports loaded bytes and no total', async () => {
    const bucket = await freshBucket(s3, 'ex-progress-unknown');
    const data = markedBytes(6 * MiB, 4);
    const lines: string[] = [];
    const events = await uploadWithProgress(s3, newKeyring(), { bucket, key: 'stream.bin' }, Readable.from([data.subarray(0, MiB), data.subarray(MiB)]), (line) => lines.push(line));
    expect(Math.max(...events.map((event) => event.loaded ?? 0))).toBe(data.length);
    expect(events.every((event) => event.total === undefined)).toBe(true);
    expect(lines).toContain(`stream.bin: part 2 stored, ${data.length} bytes`);
  });
});

describe('examples/http-service.ts', () => {
  let base: string;
  let bucket: string;
  let close: () => Promise<void>;
  const keyring = newKeyring();

  beforeAll(async () => {
    bucket = await freshBucket(s3, 'ex-http');
    const app = buildFileService({ s3, keyring, bucket });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    close = () => app.close();
  });
  afterAll(async () => close?.());

  const data = markedBytes(6 * MiB + 777, 9);
  const dataBody = new Uint8Array(data); // fetch's BodyInit wants an ArrayBuffer-backed view

  it('PUT streams a body into an encrypted object; GET returns it whole', async () => {
    const put = await fetch(`${base}/files/reports/q1.bin`, { method: 'PUT', body: dataBody, headers: { 'content-type': 'application/x-report' } });
    expect(put.status).toBe(201);
    expect(await put.json()).toEqual({ key: 'reports/q1.bin' });
    expect((await getBody(s3, bucket, 'reports/q1.bin')).includes(MARKER)).toBe(false);

    const got = await fetch(`${base}/files/reports/q1.bin`);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-length')).toBe(String(data.length));
    expect(got.headers.get('content-type')).toBe('application/x-report');
    expect(got.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await got.arrayBuffer()).equals(data)).toBe(true);
  });

  it('a chunked upload of unknown length (a streamed request body) round-trips', async () => {
    const chunks = [data.subarray(0, 3 * MiB), data.subarray(3 * MiB)];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const put = await fetch(`${base}/files/streamed.bin`, { method: 'PUT', body, duplex: 'half' } as RequestInit);
    expect(put.status).toBe(201);
    expect(Buffer.from(await (await fetch(`${base}/files/streamed.bin`)).arrayBuffer()).equals(data)).toBe(true);
  });

  it('a client that disconnects mid-upload leaves no object and no multipart upload behind', async () => {
    const uploads = async () => (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'abandoned.bin' }))).Uploads ?? [];
    const disconnect = new AbortController();
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) return new Promise<void>(() => undefined); // then stalls, like a client that went away
        sent = true;
        controller.enqueue(dataBody); // more than one part: the multipart upload starts
      },
    });
    const put = fetch(`${base}/files/abandoned.bin`, { method: 'PUT', body, duplex: 'half', signal: disconnect.signal } as RequestInit);
    while ((await uploads()).length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    disconnect.abort();
    await expect(put).rejects.toThrow();
    while ((await uploads()).length > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'abandoned.bin' }))).rejects.toMatchObject({ name: 'NotFound' });
  });

  it('POST stores under a new id and answers with its Location', async () => {
    const post = await fetch(`${base}/files`, { method: 'POST', body: 'posted text', headers: { 'content-type': 'text/plain' } });
    expect(post.status).toBe(201);
    const location = post.headers.get('location')!;
    expect(location).toMatch(/^\/files\/[0-9a-f-]{36}$/);
    const got = await fetch(`${base}${location}`);
    expect(await got.text()).toBe('posted text');
  });

  it('answers Range requests with 206 and Content-Range in all three forms, and 416 past the end', async () => {
    const cases: [string, number, number][] = [
      ['bytes=100-199', 100, 199],
      [`bytes=${data.length - 1000}-`, data.length - 1000, data.length - 1],
      ['bytes=-500', data.length - 500, data.length - 1],
      ['bytes=262100-262200', 262_100, 262_200], // across a segment boundary
    ];
    for (const [range, first, last] of cases) {
      const got = await fetch(`${base}/files/reports/q1.bin`, { headers: { range } });
      expect(got.status, range).toBe(206);
      expect(got.headers.get('content-range'), range).toBe(`bytes ${first}-${last}/${data.length}`);
      expect(got.headers.get('content-length'), range).toBe(String(last - first + 1));
      expect(Buffer.from(await got.arrayBuffer()).equals(data.subarray(first, last + 1)), range).toBe(true);
    }
    const past = await fetch(`${base}/files/reports/q1.bin`, { headers: { range: `bytes=${data.length}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${data.length}`);
    await past.arrayBuffer();
    // A multi-range (not supported) is ignored, as RFC 9110 allows: the whole file.
    const multi = await fetch(`${base}/files/reports/q1.bin`, { headers: { range: 'bytes=0-1,5-6' } });
    expect(multi.status).toBe(200);
    expect((await multi.arrayBuffer()).byteLength).toBe(data.length);
  });

  it('HEAD reports the plaintext length', async () => {
    const head = await fetch(`${base}/files/reports/q1.bin`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(data.length));
  });

  it('maps a missing file to 404 and a tampered one to 502, without details', async () => {
    const missing = await fetch(`${base}/files/nothing-here`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'not found' });
    expect((await fetch(`${base}/files/nothing-here`, { method: 'HEAD' })).status).toBe(404);

    expect((await fetch(`${base}/files/small.txt`, { method: 'PUT', body: 'a small file' })).status).toBe(201);
    await tamper(bucket, 'small.txt', 3);
    const tampered = await fetch(`${base}/files/small.txt`);
    expect(tampered.status).toBe(502);
    const text = await tampered.text();
    expect(text).toBe(JSON.stringify({ error: 'the file could not be served' }));
  });

  it('cuts a download whose later segment fails to authenticate, so it never looks complete', async () => {
    expect((await fetch(`${base}/files/late-tamper.bin`, { method: 'PUT', body: dataBody })).status).toBe(201);
    await tamper(bucket, 'late-tamper.bin', 3 * MiB);
    const got = await fetch(`${base}/files/late-tamper.bin`);
    expect(got.status).toBe(200); // headers went out with the first verified bytes
    await expect(got.arrayBuffer()).rejects.toThrow();
  });
});
