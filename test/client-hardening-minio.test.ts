// What a hostile store can try against EncryptingS3Client, against a real MinIO: objects read as
// plaintext outside the caller's selection, renamed envelopes, truncated bodies answered with 416,
// tampered copy sources, and (through the hostile store of test/harness/hostile-store.ts, a proxy in
// front of MinIO) responses larger than asked.
import {
  CopyObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { EncryptingS3Client, RawAesKeyring, s3cryptInfo, type PlaintextReadSelection } from '@s3crypt/client';
import { uploadEncrypted } from '../packages/client/src/client/encrypted-upload.js';
import { ResolvedKeyPolicy } from '../packages/client/src/client/key-policy.js';
import { LayoutHints } from '../packages/client/src/client/layout-hints.js';
import { MultipartUploads } from '../packages/client/src/client/multipart-state.js';
import { authenticateObject } from '../packages/client/src/client/verify-object.js';
import { getBody, MARKER, markedBytes, testClients } from './harness/clients.js';
import {
  appendBytes,
  lazyBytes,
  matches,
  replaceBody,
  s3Error,
  setHeaders,
  startHostileStore,
  type HostileStore,
  type RequestMatch,
} from './harness/hostile-store.js';
import { s3Client } from './harness/minio.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SEGMENT = 64 * KiB;
const TAIL = 256 * KiB;

let plain: S3Client;
let encrypting: EncryptingS3Client;
let keyring: RawAesKeyring;
let bucket: string;

beforeAll(async () => {
  ({ plain, encrypting, bucket } = await testClients());
  keyring = new RawAesKeyring({ keyName: 'hardening-key', masterKey: randomBytes(32) });
  encrypting = new EncryptingS3Client({ client: plain, keyring });
});

/** The handler context of a client with the test key that reads nothing as plaintext. */
function readerContext() {
  return { inner: plain, keyring, policy: new ResolvedKeyPolicy(undefined, keyring), segmentSize: SEGMENT, plaintextReads: () => false, uploads: new MultipartUploads(), layoutHints: new LayoutHints() };
}

/** Another client with the same key and plain client, reading plaintext only where `selection` says. */
function withSelection(selection: PlaintextReadSelection, client: S3Client = plain): EncryptingS3Client {
  return new EncryptingS3Client({ client, keyring, allowPlaintextReads: selection });
}

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; name?: string; message?: string }> {
  return promise.then(
    () => ({ code: 'resolved' }),
    (error: unknown) => error as { code?: string },
  );
}

async function exists(key: string): Promise<boolean> {
  return plain.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
    () => true,
    (error: Error) => {
      if (error.name === 'NotFound') return false;
      throw error;
    },
  );
}

/** Stores `body` under `key` with the metadata of `from`, behind the client's back. */
async function rewrite(key: string, body: Buffer, metadata?: Record<string, string>): Promise<void> {
  await plain.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: metadata }));
}

async function storedObject(key: string): Promise<{ body: Buffer; metadata: Record<string, string> }> {
  const head = await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return { body: await getBody(plain, bucket, key), metadata: head.Metadata ?? {} };
}

/** Every way a caller can read an object: whole, ranged, by part, and HEAD. */
function everyRead(client: EncryptingS3Client, key: string): Record<string, () => Promise<unknown>> {
  return {
    'GET whole': () => getBody(client, bucket, key),
    'GET Range': () => getBody(client, bucket, key, { Range: 'bytes=0-0' }),
    'GET PartNumber': () => getBody(client, bucket, key, { PartNumber: 1 }),
    HEAD: () => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })),
  };
}

describe('plaintext reads only inside the caller\'s selection', () => {
  beforeAll(async () => {
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'legacy/a.txt', Body: 'legacy plaintext', Metadata: { owner: 'team-a' } }));
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'other/b.txt', Body: 'other plaintext' }));
  });

  it('outside the selection, every kind of read of an object without an envelope is ERR_NOT_ENCRYPTED', async () => {
    for (const client of [encrypting, withSelection([{ bucket, prefix: 'legacy/' }]), withSelection([{ bucket: `${bucket}-not` }]), withSelection(() => false)]) {
      for (const [name, read] of Object.entries(everyRead(client, 'other/b.txt'))) {
        expect((await rejection(read())).code, name).toBe('ERR_NOT_ENCRYPTED');
      }
    }
  });

  it('inside the selection (prefix, whole bucket, or predicate), every kind of read works and says it was plaintext', async () => {
    const selections: PlaintextReadSelection[] = [[{ bucket, prefix: 'legacy/' }], [{ bucket }], (b, k) => b === bucket && k === 'legacy/a.txt'];
    for (const selection of selections) {
      const client = withSelection(selection);
      const whole = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'legacy/a.txt' }));
      expect(await whole.Body!.transformToString()).toBe('legacy plaintext');
      expect(s3cryptInfo(whole)).toEqual({ encrypted: false });
      const ranged = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'legacy/a.txt', Range: 'bytes=7-15' }));
      expect(await ranged.Body!.transformToString()).toBe('plaintext');
      expect(s3cryptInfo(ranged)).toEqual({ encrypted: false });
      const part = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'legacy/a.txt', PartNumber: 1 }));
      expect(await part.Body!.transformToString()).toBe('legacy plaintext');
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'legacy/a.txt' }));
      expect(head.ContentLength).toBe('legacy plaintext'.length);
      expect(head.Metadata).toEqual({ owner: 'team-a' });
      expect(s3cryptInfo(head)).toEqual({ encrypted: false });
    }
  });

  it('encrypted reads say they were encrypted, with the format version', async () => {
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'enc/info', Body: 'secret' }));
    const got = await encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'enc/info' }));
    expect(s3cryptInfo(got)).toMatchObject({ encrypted: true, formatVersion: expect.any(Number) });
    const head = await encrypting.send(new HeadObjectCommand({ Bucket: bucket, Key: 'enc/info' }));
    expect(s3cryptInfo(head)).toMatchObject({ encrypted: true, formatVersion: expect.any(Number) });
  });

  it('a renamed envelope is never read as plaintext, even inside the selection (ERR_ENVELOPE_MALFORMED)', async () => {
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'legacy/renamed', Body: markedBytes(5000) }));
    const stored = await storedObject('legacy/renamed');
    await rewrite('legacy/renamed', stored.body, { 's3crypt-envelope-v0': stored.metadata['s3crypt-envelope']! });
    const lenient = withSelection([{ bucket }]);
    for (const [name, read] of Object.entries(everyRead(lenient, 'legacy/renamed'))) {
      expect((await rejection(read())).code, name).toBe('ERR_ENVELOPE_MALFORMED');
    }
    expect((await rejection(lenient.send(new CopyObjectCommand({ Bucket: bucket, Key: 'dest/renamed', CopySource: `${bucket}/legacy/renamed` })))).code).toBe('ERR_ENVELOPE_MALFORMED');
    expect(await exists('dest/renamed')).toBe(false);
  });
});

describe('copying a plaintext object through the client encrypts the copy', () => {
  it('inside the selection: the copy is stored encrypted, with the source\'s metadata, headers and tags', async () => {
    const data = markedBytes(300 * KiB, 21);
    await plain.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'legacy/copy-src', Body: data, Metadata: { owner: 'team-b' }, ContentType: 'text/x-legacy', Tagging: 'tier=cold&team=b' }),
    );
    const lenient = withSelection([{ bucket, prefix: 'legacy/' }]);
    const output = await lenient.send(new CopyObjectCommand({ Bucket: bucket, Key: 'dest/from-plain', CopySource: `${bucket}/legacy/copy-src` }));
    expect(output.CopyObjectResult?.ETag).toBeDefined();
    const stored = await storedObject('dest/from-plain');
    expect(stored.metadata['s3crypt-envelope']).toBeDefined();
    expect(stored.body.includes(MARKER)).toBe(false);
    // Readable by a client that reads nothing as plaintext.
    const got = await encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'dest/from-plain' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
    expect(got.Metadata).toEqual({ owner: 'team-b' });
    expect(got.ContentType).toBe('text/x-legacy');
    expect(s3cryptInfo(got)).toMatchObject({ encrypted: true });
    const { TagSet } = await plain.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'dest/from-plain' }));
    expect(Object.fromEntries((TagSet ?? []).map((t) => [t.Key, t.Value]))).toEqual({ tier: 'cold', team: 'b' });
  });

  it('MetadataDirective REPLACE takes the caller\'s metadata and headers', async () => {
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'legacy/copy-replace', Body: 'to be replaced', Metadata: { owner: 'old' }, ContentType: 'text/x-old' }));
    const lenient = withSelection([{ bucket, prefix: 'legacy/' }]);
    await lenient.send(
      new CopyObjectCommand({ Bucket: bucket, Key: 'dest/replaced', CopySource: `${bucket}/legacy/copy-replace`, MetadataDirective: 'REPLACE', Metadata: { owner: 'new' }, ContentType: 'text/x-new' }),
    );
    const got = await encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'dest/replaced' }));
    expect(await got.Body!.transformToString()).toBe('to be replaced');
    expect(got.Metadata).toEqual({ owner: 'new' });
    expect(got.ContentType).toBe('text/x-new');
  });

  it('outside the selection: ERR_NOT_ENCRYPTED and nothing is written', async () => {
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'other/copy-src', Body: 'plaintext' }));
    for (const client of [encrypting, withSelection([{ bucket, prefix: 'legacy/' }])]) {
      expect((await rejection(client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'dest/refused', CopySource: `${bucket}/other/copy-src` })))).code).toBe('ERR_NOT_ENCRYPTED');
    }
    expect(await exists('dest/refused')).toBe(false);
  });

  it('a source too large for one PUT is streamed into a multipart upload, part by part', async () => {
    const data = markedBytes(12 * MiB + 777, 22);
    const ctx = readerContext();
    const limits = { singlePutLimit: 5 * MiB, partSize: 5 * MiB };
    await uploadEncrypted(ctx, { Bucket: bucket, Key: 'dest/multipart', Metadata: { owner: 'mp' } }, Readable.from([data.subarray(0, 3 * MiB), data.subarray(3 * MiB)]), data.length, undefined, {}, limits);
    const stored = await storedObject('dest/multipart');
    expect(stored.body.includes(MARKER)).toBe(false);
    expect((await getBody(encrypting, bucket, 'dest/multipart')).equals(data)).toBe(true);
    expect((await getBody(encrypting, bucket, 'dest/multipart', { PartNumber: 3 })).equals(data.subarray(10 * MiB))).toBe(true);
    // A source that runs long or short stores nothing and leaves no upload behind.
    for (const [key, source] of [['dest/long', Buffer.concat([data, Buffer.alloc(1)])], ['dest/short', data.subarray(1)]] as const) {
      expect((await rejection(uploadEncrypted(ctx, { Bucket: bucket, Key: key }, Readable.from([source]), data.length, undefined, {}, limits))).code, key).toBe('ERR_BODY_LENGTH_MISMATCH');
      expect(await exists(key)).toBe(false);
    }
    expect((await plain.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toHaveLength(0);
  });
});

// MinIO answers a suffix range of an empty object with 206 "bytes 0--1/0"; S3 answers 416 (below, through the hostile store).
describe('an envelope with an emptied body is ERR_OBJECT_TRUNCATED', () => {
  beforeAll(async () => {
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'legacy/emptied', Body: markedBytes(2000) }));
    const stored = await storedObject('legacy/emptied');
    await rewrite('legacy/emptied', Buffer.alloc(0), stored.metadata);
  });

  it('for every kind of read, with or without a plaintext selection that includes it', async () => {
    for (const client of [encrypting, withSelection([{ bucket }])]) {
      for (const [name, read] of Object.entries(everyRead(client, 'legacy/emptied'))) {
        expect((await rejection(read())).code, name).toBe('ERR_OBJECT_TRUNCATED');
      }
    }
  });

  it('and it is not copied', async () => {
    for (const client of [encrypting, withSelection([{ bucket }])]) {
      expect((await rejection(client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'dest/emptied', CopySource: `${bucket}/legacy/emptied` })))).code).toBe('ERR_OBJECT_TRUNCATED');
    }
    expect(await exists('dest/emptied')).toBe(false);
  });

  it('an empty object without an envelope is empty plaintext inside the selection, ERR_NOT_ENCRYPTED outside', async () => {
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'legacy/empty-plain', Body: '' }));
    const got = await withSelection([{ bucket, prefix: 'legacy/' }]).send(new GetObjectCommand({ Bucket: bucket, Key: 'legacy/empty-plain' }));
    expect(await got.Body!.transformToString()).toBe('');
    expect(s3cryptInfo(got)).toEqual({ encrypted: false });
    expect((await rejection(getBody(encrypting, bucket, 'legacy/empty-plain'))).code).toBe('ERR_NOT_ENCRYPTED');
  });
});

describe('CopyObject authenticates its whole source before anything is written', () => {
  const data = markedBytes(MiB + 12345, 31);
  const tamperings: Record<string, { code: string; tamper: (body: Buffer) => Buffer }> = {
    'a flipped byte in the middle': {
      code: 'ERR_DECRYPTION_FAILED',
      tamper: (body) => {
        const copy = Buffer.from(body);
        copy[300_000] = (copy[300_000] as number) ^ 1;
        return copy;
      },
    },
    'a bad tag of the first segment': {
      code: 'ERR_DECRYPTION_FAILED',
      tamper: (body) => {
        const copy = Buffer.from(body);
        copy[SEGMENT + 3] = (copy[SEGMENT + 3] as number) ^ 0x40;
        return copy;
      },
    },
    'a cut from the middle': { code: 'ERR_OBJECT_TRUNCATED', tamper: (body) => Buffer.concat([body.subarray(0, 200_000), body.subarray(200_000 + SEGMENT + 16)]) },
    'a random body of the same length': { code: 'ERR_DECRYPTION_FAILED|ERR_OBJECT_MALFORMED', tamper: (body) => randomBytes(body.length) },
  };

  for (const [name, { code, tamper }] of Object.entries(tamperings)) {
    it(`${name}: ${code}, and no destination object`, async () => {
      const key = `tampered/${name.replaceAll(' ', '-')}`;
      await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
      const stored = await storedObject(key);
      await rewrite(key, tamper(stored.body), stored.metadata);
      const destination = `dest/${key}`;
      expect((await rejection(encrypting.send(new CopyObjectCommand({ Bucket: bucket, Key: destination, CopySource: `${bucket}/${key}` })))).code).toMatch(new RegExp(`^(${code})$`));
      expect(await exists(destination)).toBe(false);
      expect((await rejection(authenticateObject(readerContext(), { Bucket: bucket, Key: key }, undefined))).code).toMatch(new RegExp(`^(${code})$`));
    });
  }

  it('authenticateObject (the check CopyObject runs) accepts an intact object and names the ETag it verified', async () => {
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'intact/source', Body: data }));
    const verified = await authenticateObject(readerContext(), { Bucket: bucket, Key: 'intact/source' }, undefined);
    const { ETag } = await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: 'intact/source' }));
    expect(verified).toMatchObject({ encrypted: true, etag: ETag, layout: { plaintextLength: data.length } });
  });
});

/** Samples memory while `operation` runs; returns the operation's outcome and the peak growth. */
async function peakGrowth<T>(operation: () => Promise<T>): Promise<{ outcome: T; growth: number }> {
  const now = () => {
    const usage = process.memoryUsage();
    return usage.rss + usage.arrayBuffers;
  };
  const before = now();
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, now())), 5);
  try {
    const outcome = await operation();
    peak = Math.max(peak, now());
    return { outcome, growth: peak - before };
  } finally {
    clearInterval(timer);
  }
}

/** The client's request for the last bytes of `key` (its envelope trailer). */
const tailRequest = (key: string): RequestMatch => ({ method: 'GET', key, range: `bytes=-${TAIL}` });
/** The client's request for the body of `key` after the tail. */
const bodyRequest = (key: string): RequestMatch => ({ method: 'GET', key, range: /^bytes=0-\d+$/ });

/** Body bytes the store has sent for requests matching `match`, once the client has had time to hang up. */
async function bodyBytesSentSettled(store: HostileStore, match: RequestMatch): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 200));
  return store.requests.filter((r) => matches(r, match)).reduce((sum, r) => sum + r.bodyBytesSent, 0);
}

describe('a store that answers with more bytes, or other bytes, than asked', () => {
  let store: HostileStore;
  let lied: EncryptingS3Client;
  let liedLenient: EncryptingS3Client;
  const big = markedBytes(2 * MiB + 999, 41);
  const LIE = 768 * MiB;
  const filler = lazyBytes(LIE, 0x5a);

  beforeAll(async () => {
    store = await startHostileStore(inject('s3'));
    lied = new EncryptingS3Client({ client: s3Client(store.endpoint), keyring });
    liedLenient = new EncryptingS3Client({ client: s3Client(store.endpoint), keyring, allowPlaintextReads: [{ bucket, prefix: 'lies/' }] });
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'lies/small', Body: markedBytes(10 * KiB, 40) }));
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'lies/big', Body: big }));
  });
  afterEach(() => store.reset());
  afterAll(async () => {
    lied.destroy();
    liedLenient.destroy();
    await store.stop();
  });

  it(`a 256 KiB tail request answered with a declared ${LIE / MiB} MiB: ERR_RESPONSE_TOO_LARGE, memory bounded, connection dropped`, async () => {
    store.onResponse(tailRequest('lies/small'), replaceBody(filler));
    store.onResponse(tailRequest('lies/small'), setHeaders({ 'content-range': `bytes 0-${LIE - 1}/${LIE}` }));
    const { outcome, growth } = await peakGrowth(() => rejection(getBody(lied, bucket, 'lies/small')));
    expect(outcome.code).toBe('ERR_RESPONSE_TOO_LARGE');
    expect(outcome.message).toContain('lies/small');
    expect(growth).toBeLessThan(64 * MiB);
    expect(await bodyBytesSentSettled(store, tailRequest('lies/small'))).toBeLessThan(64 * MiB);
  });

  it(`a 256 KiB tail request answered with ${LIE / MiB} MiB of undeclared length (chunked): ERR_RESPONSE_TOO_LARGE, memory bounded`, async () => {
    store.onResponse(tailRequest('lies/small'), appendBytes(filler, 'chunked'));
    const { outcome, growth } = await peakGrowth(() => rejection(getBody(lied, bucket, 'lies/small')));
    expect(outcome.code).toBe('ERR_RESPONSE_TOO_LARGE');
    expect(growth).toBeLessThan(64 * MiB);
    expect(await bodyBytesSentSettled(store, tailRequest('lies/small'))).toBeLessThan(64 * MiB);
  });

  it('the body request of a large read answered with a declared larger length: ERR_RESPONSE_TOO_LARGE from send(), before any plaintext', async () => {
    store.onResponse(bodyRequest('lies/big'), replaceBody(filler));
    const { outcome, growth } = await peakGrowth(() => rejection(lied.send(new GetObjectCommand({ Bucket: bucket, Key: 'lies/big' }))));
    expect(outcome.code).toBe('ERR_RESPONSE_TOO_LARGE');
    expect(growth).toBeLessThan(64 * MiB);
  });

  it(`the body request of a large read answered with the right headers and ${LIE / MiB} MiB more (chunked): the body errors ERR_RESPONSE_TOO_LARGE, memory bounded`, async () => {
    store.onResponse(bodyRequest('lies/big'), appendBytes(filler, 'chunked'));
    const { outcome, growth } = await peakGrowth(async () => {
      const got = await lied.send(new GetObjectCommand({ Bucket: bucket, Key: 'lies/big' }));
      return rejection(got.Body!.transformToByteArray());
    });
    expect(outcome.code).toBe('ERR_RESPONSE_TOO_LARGE');
    expect(growth).toBeLessThan(64 * MiB);
    expect(await bodyBytesSentSettled(store, bodyRequest('lies/big'))).toBeLessThan(64 * MiB);
  });

  it('a Content-Range that is not the range asked is refused by send() itself (ERR_OBJECT_MALFORMED), before any plaintext', async () => {
    const shifts: Record<string, (start: number, end: number, total: number) => string> = {
      'shifted by one segment': (s, e, t) => `bytes ${s + SEGMENT + 16}-${e + SEGMENT + 16}/${t}`,
      'another total': (s, e, t) => `bytes ${s}-${e}/${t + 1}`,
    };
    for (const [name, shift] of Object.entries(shifts)) {
      const removeRule = store.onResponse(bodyRequest('lies/big'), (_request, { headers }) => {
        const [, s, e, t] = /bytes (\d+)-(\d+)\/(\d+)/.exec(headers['content-range'] ?? '') ?? [];
        return { headers: { 'content-range': shift(Number(s), Number(e), Number(t)) } };
      });
      expect((await rejection(lied.send(new GetObjectCommand({ Bucket: bucket, Key: 'lies/big' })))).code, name).toBe('ERR_OBJECT_MALFORMED');
      removeRule();
    }
    expect(store.count(bodyRequest('lies/big'))).toBe(2);
  });

  it('a tail request answered 416 (as S3 answers for an empty object) with an envelope: ERR_OBJECT_TRUNCATED for every read and copy, even inside the selection', async () => {
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'lies/emptied', Body: markedBytes(2000) }));
    const stored = await storedObject('lies/emptied');
    await rewrite('lies/emptied', Buffer.alloc(0), stored.metadata);
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'lies/empty-plain', Body: '' }));
    const invalidRange = () => s3Error(416, 'InvalidRange', 'The requested range is not satisfiable');
    store.onRequest(tailRequest('lies/emptied'), invalidRange);
    store.onRequest(tailRequest('lies/empty-plain'), invalidRange);
    for (const client of [lied, liedLenient]) {
      for (const [name, read] of Object.entries(everyRead(client, 'lies/emptied'))) {
        expect((await rejection(read())).code, name).toBe('ERR_OBJECT_TRUNCATED');
      }
      expect((await rejection(client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'dest/emptied-416', CopySource: `${bucket}/lies/emptied` })))).code).toBe('ERR_OBJECT_TRUNCATED');
    }
    expect(await exists('dest/emptied-416')).toBe(false);
    // Without any envelope it is an empty object: plaintext inside the selection only.
    const got = await liedLenient.send(new GetObjectCommand({ Bucket: bucket, Key: 'lies/empty-plain' }));
    expect(await got.Body!.transformToString()).toBe('');
    expect(s3cryptInfo(got)).toEqual({ encrypted: false });
    expect((await rejection(getBody(lied, bucket, 'lies/empty-plain'))).code).toBe('ERR_NOT_ENCRYPTED');
    // The tail requests were made, and every one was told the lie.
    const tails = store.requests.filter((r) => matches(r, tailRequest('lies/emptied')) || matches(r, tailRequest('lies/empty-plain')));
    expect(new Set(tails.map((r) => `${r.key} ${r.answeredBy} ${r.status}`))).toEqual(new Set(['lies/emptied proxy 416', 'lies/empty-plain proxy 416']));
  });

  it('an honest answer still reads, and CopyObject pins the copy to the ETag it verified', async () => {
    expect((await getBody(lied, bucket, 'lies/big')).equals(big)).toBe(true);
    store.reset();
    await lied.send(new CopyObjectCommand({ Bucket: bucket, Key: 'dest/lies-big', CopySource: `${bucket}/lies/big` }));
    const { ETag } = await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: 'lies/big' }));
    const copy = store.requests.find((r) => r.method === 'PUT' && r.headers['x-amz-copy-source'] !== undefined);
    expect(copy?.headers['x-amz-copy-source-if-match']).toBe(ETag);
    // The whole source was read (authenticated) before the copy request.
    const reads = store.requests.slice(0, store.requests.indexOf(copy!)).filter((r) => r.method === 'GET');
    expect(reads.map((r) => r.range)).toEqual([`bytes=-${TAIL}`, expect.stringMatching(/^bytes=0-\d+$/)]);
    expect((await getBody(encrypting, bucket, 'dest/lies-big')).equals(big)).toBe(true);
  });
});
