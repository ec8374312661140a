// Self-test of the hostile-store harness: the plain S3Client, through the proxy, against the real
// MinIO of test/harness/global-setup.ts. With no rules everything passes through byte-identical;
// each programmed lie reaches the client as programmed.
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type GetObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { getBody, markedBytes } from './harness/clients.js';
import {
  appendBytes,
  lazyBytes,
  once,
  renameMetadata,
  replaceBody,
  s3Error,
  setContentRangeTotal,
  setEtag,
  setMetadata,
  setStatus,
  startHostileStore,
  stripChecksums,
  stripMetadata,
  type BodyStream,
  type HostileStore,
} from './harness/hostile-store.js';
import { freshBucket, s3Client } from './harness/minio.js';

const MiB = 1024 * 1024;
const DATA = markedBytes(100_000, 5);

let store: HostileStore;
let client: S3Client;
let direct: S3Client;
let bucket: string;

beforeAll(async () => {
  store = await startHostileStore(inject('s3'));
  client = s3Client(store.endpoint);
  direct = s3Client(inject('s3'));
  bucket = await freshBucket(direct, 'hostile');
  await direct.send(new PutObjectCommand({ Bucket: bucket, Key: 'fixture', Body: DATA, Metadata: { envelope: 'v1-original', other: 'kept' } }));
});
afterEach(() => store.reset());
afterAll(async () => {
  client.destroy();
  direct.destroy();
  await store.stop();
});

describe('with no rules', () => {
  it('PutObject, GetObject (whole and ranged) and HeadObject pass through byte-identical', async () => {
    const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/a b+ü', Body: DATA, Metadata: { envelope: 'x' } }));
    expect((await getBody(direct, bucket, 'dir/a b+ü')).equals(DATA)).toBe(true);
    expect((await getBody(client, bucket, 'dir/a b+ü')).equals(DATA)).toBe(true);
    expect((await getBody(client, bucket, 'dir/a b+ü', { Range: 'bytes=10-19' })).equals(DATA.subarray(10, 20))).toBe(true);
    const viaProxy = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'dir/a b+ü' }));
    const viaMinio = await direct.send(new HeadObjectCommand({ Bucket: bucket, Key: 'dir/a b+ü' }));
    expect(viaProxy.ETag).toBe(put.ETag);
    expect({ ...viaProxy, $metadata: undefined }).toEqual({ ...viaMinio, $metadata: undefined });
  });

  it('a streamed request body passes through', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'streamed', Body: Readable.from([DATA.subarray(0, 50_000), DATA.subarray(50_000)]), ContentLength: DATA.length }));
    expect((await getBody(direct, bucket, 'streamed')).equals(DATA)).toBe(true);
    expect(store.requests[0]?.headers).toMatchObject({ 'content-encoding': 'aws-chunked', 'transfer-encoding': 'chunked' });
  });

  it('a multipart upload passes through, and the log records each request with its status', async () => {
    const part1 = markedBytes(5 * MiB, 1);
    const part2 = markedBytes(1000, 2);
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'multi' }));
    const parts = [];
    for (const [index, body] of [part1, part2].entries()) {
      const { ETag } = await client.send(new UploadPartCommand({ Bucket: bucket, Key: 'multi', UploadId, PartNumber: index + 1, Body: body }));
      parts.push({ ETag, PartNumber: index + 1 });
    }
    await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'multi', UploadId, MultipartUpload: { Parts: parts } }));
    expect((await getBody(direct, bucket, 'multi')).equals(Buffer.concat([part1, part2]))).toBe(true);

    expect(store.requests.map(({ method, key, status, answeredBy }) => ({ method, key, status, answeredBy }))).toEqual([
      { method: 'POST', key: 'multi', status: 200, answeredBy: 'minio' },
      { method: 'PUT', key: 'multi', status: 200, answeredBy: 'minio' },
      { method: 'PUT', key: 'multi', status: 200, answeredBy: 'minio' },
      { method: 'POST', key: 'multi', status: 200, answeredBy: 'minio' },
    ]);
    expect(store.count({ method: 'PUT', query: 'uploadId' })).toBe(2);
    expect(store.requests[1]?.query.get('partNumber')).toBe('1');
    expect(store.requests[0]?.bucket).toBe(bucket);
  });

  it('the log counts the body bytes each answer was sent', async () => {
    await getBody(client, bucket, 'fixture');
    await getBody(client, bucket, 'fixture', { Range: 'bytes=10-19' });
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'fixture' }));
    expect(store.requests.map(({ method, bodyBytesSent }) => [method, bodyBytesSent])).toEqual([
      ['GET', DATA.length],
      ['GET', 10],
      ['HEAD', 0],
    ]);
  });
});

describe('response lies reach the client', () => {
  it('metadata rewritten, stripped and renamed', async () => {
    store.onResponse({ key: 'fixture' }, setMetadata('envelope', 'forged'));
    store.onResponse({ key: 'fixture' }, stripMetadata('other'));
    store.onResponse({ key: 'fixture' }, renameMetadata('envelope', 'moved'));
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'fixture' }));
    expect(head.Metadata).toEqual({ moved: 'forged' });
    const get = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'fixture' }));
    expect(get.Metadata).toEqual({ moved: 'forged' });
    expect(Buffer.from(await get.Body!.transformToByteArray()).equals(DATA)).toBe(true);
  });

  it('only matching requests are rewritten: by method, key and whether a Range was sent', async () => {
    store.onResponse({ method: 'GET', key: 'fixture', ranged: true }, setMetadata('envelope', 'ranged-only'));
    expect((await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'fixture' }))).Metadata?.envelope).toBe('v1-original');
    expect((await getMetadata({ Bucket: bucket, Key: 'fixture' }))?.envelope).toBe('v1-original');
    expect((await getMetadata({ Bucket: bucket, Key: 'fixture', Range: 'bytes=0-0' }))?.envelope).toBe('ranged-only');
    expect(store.count({ method: 'GET', ranged: true })).toBe(1);
    expect(store.requests.at(-1)?.range).toBe('bytes=0-0');
  });

  it('only requests with the Range given (exactly, or matching a pattern) are rewritten', async () => {
    store.onResponse({ method: 'GET', range: 'bytes=-10' }, setMetadata('envelope', 'suffix-only'));
    store.onResponse({ method: 'GET', range: /^bytes=\d+-\d+$/ }, setMetadata('other', 'bounded-only'));
    expect(await getMetadata({ Bucket: bucket, Key: 'fixture' })).toEqual({ envelope: 'v1-original', other: 'kept' });
    expect(await getMetadata({ Bucket: bucket, Key: 'fixture', Range: 'bytes=-10' })).toEqual({ envelope: 'suffix-only', other: 'kept' });
    expect(await getMetadata({ Bucket: bucket, Key: 'fixture', Range: 'bytes=-100' })).toEqual({ envelope: 'v1-original', other: 'kept' });
    expect(await getMetadata({ Bucket: bucket, Key: 'fixture', Range: 'bytes=0-9' })).toEqual({ envelope: 'v1-original', other: 'bounded-only' });
    expect(store.count({ range: 'bytes=-10' })).toBe(1);
    expect(store.count({ range: /^bytes=-/ })).toBe(2);
  });

  it('body replaced, with a consistent Content-Length (and the checksum MinIO stored, until it is stripped)', async () => {
    store.onResponse({ method: 'GET', key: 'fixture' }, replaceBody(Buffer.from('forged bytes')));
    const caught = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'fixture' }));
    await expect(caught.Body!.transformToByteArray()).rejects.toThrow(/Checksum mismatch/);
    store.onResponse({ method: 'GET', key: 'fixture' }, stripChecksums());
    const get = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'fixture' }));
    expect(get.ContentLength).toBe(12);
    expect(Buffer.from(await get.Body!.transformToByteArray()).toString()).toBe('forged bytes');
  });

  it('body replaced but the old Content-Length kept: the client sees a truncated body', async () => {
    store.onResponse({ method: 'GET', key: 'fixture' }, replaceBody(Buffer.from('short'), 'unchanged'));
    const get = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'fixture' }));
    expect(get.ContentLength).toBe(DATA.length);
    await expect(get.Body!.transformToByteArray()).rejects.toThrow();
  });

  it('more bytes than the Range asked for, announced consistently', async () => {
    store.onResponse({ method: 'GET', ranged: true }, appendBytes(Buffer.from('EXTRA')));
    const get = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'fixture', Range: 'bytes=0-9' }));
    expect(get.ContentRange).toBe(`bytes 0-9/${DATA.length}`);
    expect(get.ContentLength).toBe(15);
    expect(Buffer.from(await get.Body!.transformToByteArray()).equals(Buffer.concat([DATA.subarray(0, 10), Buffer.from('EXTRA')]))).toBe(true);
  });

  it('a lazy surplus after the body, announced consistently or chunked', async () => {
    const removeRule = store.onResponse({ method: 'GET', ranged: true }, appendBytes(lazyBytes(3 * MiB, 0x5a)));
    const announced = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'fixture', Range: 'bytes=0-9' }));
    expect(announced.ContentLength).toBe(10 + 3 * MiB);
    const expected = Buffer.concat([DATA.subarray(0, 10), Buffer.alloc(3 * MiB, 0x5a)]);
    expect(Buffer.from(await announced.Body!.transformToByteArray()).equals(expected)).toBe(true);
    removeRule();

    store.onResponse({ method: 'GET', ranged: true }, appendBytes(lazyBytes(3 * MiB, 0x5a), 'chunked'));
    const chunked = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'fixture', Range: 'bytes=0-9' }));
    expect(chunked.ContentLength).toBeUndefined();
    expect(chunked.ContentRange).toBe(`bytes 0-9/${DATA.length}`);
    expect(Buffer.from(await chunked.Body!.transformToByteArray()).equals(expected)).toBe(true);
    expect(store.requests.map((r) => r.bodyBytesSent)).toEqual([expected.length, expected.length]);
  });

  it('more bytes than the Content-Length announces go on the wire after it', async () => {
    // A raw, unsigned request: MinIO refuses it (403), and the rule rewrites that answer; this shows
    // the bytes the proxy puts on the wire, which an HTTP client would hide.
    store.onResponse({ method: 'GET', key: 'fixture' }, replaceBody(Buffer.from('0123456789'), 5));
    const raw = await rawGet(new URL(store.endpoint.endpoint), `/${bucket}/fixture`);
    const [head, body] = splitOnce(raw, '\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 403 /);
    expect(head.toLowerCase()).toContain('content-length: 5\r\n');
    expect(head.toLowerCase()).toContain('connection: close');
    expect(body).toBe('0123456789');
  });

  it('a ranged GET answered with a huge body, produced only as fast as the client reads', async () => {
    let produced = 0;
    const huge = lazyBytes(768 * MiB, 0x41);
    const counted: BodyStream = {
      length: huge.length,
      async *chunks() {
        for await (const chunk of huge.chunks()) {
          produced += chunk.length;
          yield chunk;
        }
      },
    };
    store.onResponse({ method: 'GET', ranged: true }, replaceBody(counted));
    const get = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'fixture', Range: 'bytes=0-99' }));
    expect(get.ContentLength).toBe(768 * MiB);
    let read = 0;
    for await (const chunk of get.Body as AsyncIterable<Uint8Array>) {
      expect(chunk.every((byte) => byte === 0x41)).toBe(true);
      read += chunk.length;
      if (read >= 4 * MiB) break;
    }
    expect(read).toBeGreaterThanOrEqual(4 * MiB);
    expect(produced).toBeLessThan(64 * MiB);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const sent = store.requests[0]!.bodyBytesSent;
    expect(sent).toBeGreaterThanOrEqual(read);
    expect(sent).toBeLessThanOrEqual(produced);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(store.requests[0]!.bodyBytesSent).toBe(sent);
  });

  it('a lazy body read to its end arrives whole', async () => {
    store.onResponse({ method: 'GET', ranged: true }, replaceBody(lazyBytes(3 * MiB + 7, 0x5a)));
    const body = await getBody(client, bucket, 'fixture', { Range: 'bytes=0-99' });
    expect(body.equals(Buffer.alloc(3 * MiB + 7, 0x5a))).toBe(true);
  });

  it('ETag and Content-Range total lie', async () => {
    store.onResponse({ key: 'fixture' }, setEtag('"00000000000000000000000000000000"'));
    store.onResponse({ method: 'GET', ranged: true }, setContentRangeTotal(10 ** 12));
    expect((await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'fixture' }))).ETag).toBe('"00000000000000000000000000000000"');
    const get = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'fixture', Range: 'bytes=5-9' }));
    expect(get.ETag).toBe('"00000000000000000000000000000000"');
    expect(get.ContentRange).toBe('bytes 5-9/1000000000000');
    expect(Buffer.from(await get.Body!.transformToByteArray()).equals(DATA.subarray(5, 10))).toBe(true);
  });

  it('status changed: a 206 sent as 200, and a 503 the client retries until it gives up', async () => {
    const removeRule = store.onResponse({ method: 'GET', ranged: true }, setStatus(200));
    const get = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'fixture', Range: 'bytes=0-9' }));
    expect(get.$metadata.httpStatusCode).toBe(200);
    expect(Buffer.from(await get.Body!.transformToByteArray()).equals(DATA.subarray(0, 10))).toBe(true);
    removeRule();

    store.onResponse({ method: 'HEAD' }, setStatus(503));
    await expect(client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'fixture' }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 503 } });
    expect(store.count({ method: 'HEAD', key: 'fixture' })).toBe(3);
    expect(store.requests.map((r) => r.status)).toEqual([200, 503, 503, 503]);
  });

  it('once() lies to the first matching request only', async () => {
    store.onResponse({ method: 'HEAD' }, once(setEtag('"first"')));
    expect((await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'fixture' }))).ETag).toBe('"first"');
    expect((await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'fixture' }))).ETag).not.toBe('"first"');
  });
});

describe('requests answered by the proxy itself', () => {
  it('a fixed 416 S3 error, without asking MinIO', async () => {
    store.onRequest({ method: 'GET', ranged: true }, () => s3Error(416, 'InvalidRange'));
    await expect(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'fixture', Range: 'bytes=0-9' }))).rejects.toMatchObject({
      name: 'InvalidRange',
      $metadata: { httpStatusCode: 416 },
    });
    expect(store.requests.map(({ answeredBy, status }) => ({ answeredBy, status }))).toEqual([{ answeredBy: 'proxy', status: 416 }]);
  });

  it('a 200 with a body and metadata for an object MinIO does not have', async () => {
    store.onRequest({ method: 'GET', key: 'absent' }, () => ({ status: 200, headers: { 'x-amz-meta-envelope': 'made-up' }, body: Buffer.from('invented') }));
    const get = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'absent' }));
    expect(get.Metadata).toEqual({ envelope: 'made-up' });
    expect(Buffer.from(await get.Body!.transformToByteArray()).toString()).toBe('invented');
    await expect(direct.send(new HeadObjectCommand({ Bucket: bucket, Key: 'absent' }))).rejects.toMatchObject({ name: 'NotFound' });
  });

  it('a PUT answered by the proxy stores nothing in MinIO', async () => {
    store.onRequest({ method: 'PUT', key: 'swallowed' }, () => ({ status: 200, headers: { etag: '"fake"' } }));
    const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'swallowed', Body: DATA }));
    expect(put.ETag).toBe('"fake"');
    await expect(direct.send(new HeadObjectCommand({ Bucket: bucket, Key: 'swallowed' }))).rejects.toMatchObject({ name: 'NotFound' });
  });
});

/** GETs through the proxy and reads the body, so the connection is free again. */
async function getMetadata(input: GetObjectCommandInput): Promise<Record<string, string> | undefined> {
  const response = await client.send(new GetObjectCommand(input));
  await response.Body!.transformToByteArray();
  return response.Metadata;
}

/** Sends an unsigned GET over a raw socket and returns everything the server sent until it closed. */
function rawGet(endpoint: URL, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(endpoint.port), endpoint.hostname);
    const received: Buffer[] = [];
    socket.on('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${endpoint.host}\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(received).toString('latin1')));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('the proxy kept the connection open')));
  });
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ''] : [text.slice(0, at + 2), text.slice(at + separator.length)];
}
