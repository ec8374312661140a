// What a read does at the same time, against real MinIO through the hostile-store proxy
// (test/harness/hostile-store.ts), which here holds back, cuts or relabels what it forwards: the
// keyring is asked for the data key while the tail's body is still arriving (a KMS round trip
// overlaps the transfer); a whole read asks for the rest of the object while the tail is opened, a
// ranged one for its range when it can guess it, and a read of a version read before with the tail;
// a HeadObject sends its tail GET with its HEAD. A failure of any part ends the read without leaving a
// key or a response behind.
// No timing is asserted: each test holds one side until the other has provably started.
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Upload } from '@aws-sdk/lib-storage';
import { EncryptingS3Client, KeyringError, RawAesKeyring, verifyObject, type DecryptRequest, type EncryptRequest, type Keyring } from '@s3crypt/client';
import { getBody, markedBytes } from './harness/clients.js';
import { once, setEtag, startHostileStore, type BodyStream, type HostileStore } from './harness/hostile-store.js';
import { freshBucket, s3Client } from './harness/minio.js';

const KiB = 1024;
const TAIL_RANGE = `bytes=-${256 * KiB}`;

/** A promise with its resolver, to hold one side of a read until the other has started. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

const MiB = 1024 * KiB;
const BODY_RANGE = /^bytes=0-\d+$/;

/** `promise`, or after 3 s without it: long enough that an order recorded meanwhile tells which came first. */
function orAfterAWhile(promise: Promise<void>): Promise<void> {
  return Promise.race([promise, new Promise<void>((resolve) => setTimeout(resolve, 3000))]);
}

/** A keyring that reports each unwrap as it starts, may hold or fail it, and keeps the keys it returned. */
class WatchedKeyring implements Keyring {
  started = signal();
  hold: Promise<void> = Promise.resolve();
  fail = false;
  readonly returned: Uint8Array[] = [];
  constructor(private readonly inner: RawAesKeyring) {}
  onEncrypt(request: EncryptRequest) {
    return this.inner.onEncrypt(request);
  }
  async onDecrypt(request: DecryptRequest) {
    this.started.resolve();
    await this.hold;
    if (this.fail) throw new KeyringError('ERR_KEY_UNWRAP_FAILED', 'the test keyring refuses');
    const key = await this.inner.onDecrypt(request);
    if (key) this.returned.push(key);
    return key;
  }
  kekMatchers() {
    return this.inner.kekMatchers();
  }
}

/**
 * The body `bytes`, in two pieces: the second is sent only once `release` resolves, or, `cut`, never
 * (the response then ends short of the length it announced, and its connection is closed).
 */
function heldBody(bytes: Buffer, release: Promise<void>, events: string[], cut = false): BodyStream {
  return {
    length: cut ? 1000 : bytes.length,
    async *chunks() {
      yield bytes.subarray(0, 1000);
      await release;
      events.push('rest of the tail sent');
      if (!cut) yield bytes.subarray(1000);
    },
  };
}

/** Resolves when the store is asked a GET of `key` with a Range matching `range`, recorded in `events` as `label`. */
function whenAsked(key: string, range: string | RegExp, events: string[], label: string): Promise<void> {
  const asked = signal();
  store.onRequest({ method: 'GET', key, range }, () => {
    events.push(label);
    asked.resolve();
    return undefined;
  });
  return asked.promise;
}

/**
 * Holds the keyring's unwrap until the store is asked for `key`'s bytes before the tail, recording
 * both in `events` (so a read that asked only after the unwrap shows the opposite order).
 */
function holdUnwrapUntilRestAskedFor(key: string, events: string[], range: RegExp = BODY_RANGE): void {
  keyring.hold = orAfterAWhile(whenAsked(key, range, events, 'rest asked for')).then(() => void events.push('unwrap released'));
}

let store: HostileStore;
let direct: S3Client;
let bucket: string;
let keyring: WatchedKeyring;
let client: EncryptingS3Client;

beforeAll(async () => {
  store = await startHostileStore(inject('s3'));
  direct = s3Client(inject('s3'));
  bucket = await freshBucket(direct, 'overlap');
  keyring = new WatchedKeyring(new RawAesKeyring({ keyName: 'overlap-key', masterKey: randomBytes(32) }));
  client = new EncryptingS3Client({ client: s3Client(store.endpoint), keyring });
});
afterEach(() => {
  store.reset();
  keyring.started = signal();
  keyring.hold = Promise.resolve();
  keyring.fail = false;
  keyring.returned.length = 0;
});
afterAll(async () => {
  client.destroy();
  direct.destroy();
  await store.stop();
});

describe('the keyring works while the tail arrives', () => {
  it('the unwrap starts before the tail has fully arrived, and the object reads intact', async () => {
    const data = markedBytes(40 * KiB, 3);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'overlap', Body: data }));
    const events: string[] = [];
    keyring.started.promise.then(() => events.push('unwrap started'), () => undefined);
    // The rest of the tail is held until the keyring is called (or, were it called only after the
    // body, for long enough that the order below tells the two apart).
    const release = orAfterAWhile(keyring.started.promise);
    store.onResponse({ method: 'GET', key: 'overlap', range: TAIL_RANGE }, () => ({ body: (current) => heldBody(current, release, events) }));
    expect((await getBody(client, bucket, 'overlap')).equals(data)).toBe(true);
    expect(events).toEqual(['unwrap started', 'rest of the tail sent']);
  });

  it('a tail cut short after the key came: the read fails and the key is zeroed before the error', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'cut', Body: markedBytes(40 * KiB, 4) }));
    const unwrapped = signal();
    const inner = keyring.onDecrypt.bind(keyring);
    keyring.onDecrypt = async (request) => {
      const key = await inner(request);
      unwrapped.resolve();
      return key;
    };
    const events: string[] = [];
    store.onResponse({ method: 'GET', key: 'cut', range: TAIL_RANGE }, (_request, head) => ({ headers: { 'content-length': head.headers['content-length']! }, body: (current) => heldBody(current, unwrapped.promise, events, true) }));
    try {
      await expect(getBody(client, bucket, 'cut')).rejects.toThrow();
    } finally {
      delete (keyring as Partial<WatchedKeyring>).onDecrypt;
    }
    expect(events).toEqual(['rest of the tail sent']);
    expect(keyring.returned).toHaveLength(1);
    expect(keyring.returned[0]!.every((byte) => byte === 0)).toBe(true);
  });

  it('a keyring that fails ends the read at once, without waiting for the rest of the tail', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'refused', Body: markedBytes(40 * KiB, 5) }));
    keyring.fail = true;
    const never = new Promise<void>(() => undefined);
    const events: string[] = [];
    store.onResponse({ method: 'GET', key: 'refused', range: TAIL_RANGE }, () => ({ body: (current) => heldBody(current, never, events) }));
    await expect(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'refused' }))).rejects.toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
    expect(events).toEqual([]);
    // The held response was dropped, not read to its end.
    expect(store.requests.filter((request) => request.method === 'GET')).toHaveLength(1);
    expect(store.requests[0]!.bodyBytesSent).toBeLessThan(40 * KiB);
  });
});

describe('a whole read asks for the rest of the object while the tail is opened', () => {
  it('the GET of the bytes before the tail goes out before the key is unwrapped, and the object reads intact', async () => {
    const data = markedBytes(MiB, 6);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'early', Body: data }));
    store.reset();
    const events: string[] = [];
    holdUnwrapUntilRestAskedFor('early', events);
    expect((await getBody(client, bucket, 'early')).equals(data)).toBe(true);
    expect(events).toEqual(['rest asked for', 'unwrap released']);
    expect(store.requests.map((request) => [request.method, request.range, request.status])).toEqual([
      ['GET', TAIL_RANGE, 206],
      ['GET', `bytes=0-${store.requests[1]!.range!.slice('bytes=0-'.length)}`, 206],
    ]);
  });

  it('a read that fails while the rest is on its way drops it unread', async () => {
    const total = 32 * MiB;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'early-dropped', Body: markedBytes(total, 7) }));
    holdUnwrapUntilRestAskedFor('early-dropped', []);
    keyring.fail = true;
    await expect(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'early-dropped' }))).rejects.toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
    // What the proxy could still push into the closed connection's buffers stops short of the object.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const early = store.requests.find((request) => BODY_RANGE.test(request.range ?? ''));
    expect(early).toMatchObject({ status: 206, hungUp: true });
    expect(early!.bodyBytesSent).toBeLessThan(total / 2);
  });

  it('verifyObject and a CopyObject source read the same way: two GETs, the second before the unwrap', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'whole', Body: markedBytes(MiB, 9) }));
    const readWhole = async (read: () => Promise<unknown>) => {
      store.reset();
      const events: string[] = [];
      holdUnwrapUntilRestAskedFor('whole', events);
      await read();
      expect(events).toEqual(['rest asked for', 'unwrap released']);
      expect(store.requests.filter((request) => request.method === 'GET' && request.key === 'whole').map((request) => request.range)).toEqual([TAIL_RANGE, expect.stringMatching(BODY_RANGE)]);
    };
    await readWhole(async () => expect(await verifyObject(client, { Bucket: bucket, Key: 'whole' })).toMatchObject({ encrypted: true, plaintextLength: MiB }));
    await readWhole(() => client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'whole-copy', CopySource: `${bucket}/whole` })));
    keyring.hold = Promise.resolve();
    expect((await getBody(client, bucket, 'whole-copy')).equals(markedBytes(MiB, 9))).toBe(true);
  });

  it('a ranged read of a one-part object asks for its range before the key is unwrapped (a guess the layout confirms)', async () => {
    const data = markedBytes(MiB, 13);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'ranged-early', Body: data }));
    store.reset();
    const events: string[] = [];
    holdUnwrapUntilRestAskedFor('ranged-early', events, /^bytes=\d+-\d+$/);
    expect((await getBody(client, bucket, 'ranged-early', { Range: 'bytes=300000-400000' })).equals(data.subarray(300_000, 400_001))).toBe(true);
    expect(events).toEqual(['rest asked for', 'unwrap released']);
    expect(store.requests.map((request) => request.range)).toEqual([TAIL_RANGE, expect.stringMatching(/^bytes=\d+-\d+$/)]);
    expect(store.requests.every((request) => !request.hungUp)).toBe(true);
  });

  it('a ranged read of a multipart object (an ETag with a part count) waits for the layout: no guess', async () => {
    const data = markedBytes(6 * MiB, 14);
    await new Upload({ client, params: { Bucket: bucket, Key: 'ranged-multipart', Body: data }, partSize: 5 * MiB }).done();
    store.reset();
    const events: string[] = [];
    holdUnwrapUntilRestAskedFor('ranged-multipart', events, /^bytes=\d+-\d+$/);
    expect((await getBody(client, bucket, 'ranged-multipart', { Range: 'bytes=100-199' })).equals(data.subarray(100, 200))).toBe(true);
    expect(store.requests[0]!.range).toBe(TAIL_RANGE);
    expect(store.requests.filter((request) => request.method === 'GET')).toHaveLength(2);
    expect(events).toEqual(['unwrap released', 'rest asked for']);
    // The layout that read found is remembered for this version: the next ranged read asks early.
    store.reset();
    events.length = 0;
    holdUnwrapUntilRestAskedFor('ranged-multipart', events, /^bytes=\d+-\d+$/);
    expect((await getBody(client, bucket, 'ranged-multipart', { Range: 'bytes=5500000-5600000' })).equals(data.subarray(5_500_000, 5_600_001))).toBe(true);
    expect(events).toEqual(['rest asked for', 'unwrap released']);
    expect(store.requests.filter((request) => request.method === 'GET')).toHaveLength(2);
  });

  it('a wrong guess (a copied multipart object, whose ETag has no part count) is dropped, and not made again', async () => {
    const data = markedBytes(6 * MiB, 15);
    // Parts that are not whole segments, so that the one-part guess lands on other stored bytes.
    await new Upload({ client, params: { Bucket: bucket, Key: 'multipart-copied', Body: data }, partSize: 5 * MiB + 1000 }).done();
    // Copied onto itself by the store (as a rotation's in-place copy does): same bytes, an ETag without "-2".
    const { Metadata } = await direct.send(new HeadObjectCommand({ Bucket: bucket, Key: 'multipart-copied' }));
    const copied = await direct.send(new CopyObjectCommand({ Bucket: bucket, Key: 'multipart-copied', CopySource: `${bucket}/multipart-copied`, MetadataDirective: 'REPLACE', Metadata }));
    expect(copied.CopyObjectResult?.ETag).not.toMatch(/-\d+"?$/);
    const range = { Range: 'bytes=5400000-5500000' };
    store.reset();
    expect((await getBody(client, bucket, 'multipart-copied', range)).equals(data.subarray(5_400_000, 5_500_001))).toBe(true);
    // The one-part guess asked for other bytes than the two-part layout needs: that GET was dropped
    // and the right range asked for after the trailer was read.
    const first = store.requests.filter((request) => request.method === 'GET').map((request) => request.range);
    expect(first).toHaveLength(3);
    expect(first[0]).toBe(TAIL_RANGE);
    expect(first[1]).not.toBe(first[2]);
    store.reset();
    expect((await getBody(client, bucket, 'multipart-copied', range)).equals(data.subarray(5_400_000, 5_500_001))).toBe(true);
    expect(store.requests.filter((request) => request.method === 'GET')).toHaveLength(2);
    expect(store.requests.some((request) => request.hungUp)).toBe(false);
  });

  it('a ranged read asks only for what it needs: one GET for the tail, one for the range', async () => {
    const data = markedBytes(MiB, 8);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'ranged', Body: data }));
    store.reset();
    expect((await getBody(client, bucket, 'ranged', { Range: 'bytes=10-19' })).equals(data.subarray(10, 20))).toBe(true);
    expect(store.requests.map((request) => request.range)).toEqual([TAIL_RANGE, expect.stringMatching(/^bytes=0-\d+$/)]);
    expect(Number(store.requests[1]!.range!.slice('bytes=0-'.length))).toBeLessThan(300 * KiB);
  });
});

describe('an object version this client has read before: the rest is asked for with the tail', () => {
  it('a second whole read asks for the bytes before the tail before the tail is answered', async () => {
    const data = markedBytes(MiB, 16);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'again', Body: data }));
    expect((await getBody(client, bucket, 'again')).equals(data)).toBe(true);
    store.reset();
    const events: string[] = [];
    const restAsked = whenAsked('again', BODY_RANGE, events, 'rest asked for');
    // The tail's answer is held until the rest is asked for (or, were it asked for only after the
    // tail's headers, for long enough that the order below tells the two apart).
    store.onResponse({ method: 'GET', key: 'again', range: TAIL_RANGE }, async () => {
      await orAfterAWhile(restAsked);
      events.push('tail answered');
      return undefined;
    });
    expect((await getBody(client, bucket, 'again')).equals(data)).toBe(true);
    expect(events).toEqual(['rest asked for', 'tail answered']);
    expect(store.requests.filter((request) => request.method === 'GET')).toHaveLength(2);
  });

  it('an object replaced since: the early GET, pinned to the old ETag, fails and is dropped; the new object is read', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'replaced', Body: markedBytes(MiB, 17) }));
    await getBody(client, bucket, 'replaced');
    const replacement = markedBytes(MiB + 5000, 18);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'replaced', Body: replacement }));
    store.reset();
    expect((await getBody(client, bucket, 'replaced')).equals(replacement)).toBe(true);
    const gets = store.requests.filter((request) => request.method === 'GET');
    expect(gets.map((request) => request.status).sort()).toEqual([206, 206, 412]);
  });
});

describe('a HeadObject sends the tail GET with the HEAD', () => {
  it('the tail is asked for before the HEAD is answered, and the plaintext length comes back', async () => {
    const data = markedBytes(100 * KiB, 10);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'head', Body: data }));
    store.reset();
    const events: string[] = [];
    const tailAsked = whenAsked('head', TAIL_RANGE, events, 'tail asked for');
    // The HEAD's answer is held until the tail is asked for (or, were it asked for only after the
    // HEAD, for long enough that the order below tells the two apart).
    store.onResponse({ method: 'HEAD', key: 'head' }, async () => {
      await orAfterAWhile(tailAsked);
      events.push('HEAD answered');
      return undefined;
    });
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'head' }));
    expect(head.ContentLength).toBe(data.length);
    expect(events).toEqual(['tail asked for', 'HEAD answered']);
    // Sent together, they may reach the store in either order.
    expect(store.requests.map((request) => request.method).sort()).toEqual(['GET', 'HEAD']);
  });

  it('a tail GET of another version than the HEAD saw starts the HeadObject over', async () => {
    const data = markedBytes(10 * KiB, 11);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'head-replaced', Body: data }));
    store.reset();
    // As if the object were overwritten between the HEAD and the GET: the GET's ETag differs, once.
    store.onResponse({ method: 'GET', key: 'head-replaced', range: TAIL_RANGE }, once(setEtag('"another-write"')));
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'head-replaced' }));
    expect(head.ContentLength).toBe(data.length);
    expect(store.requests.map((request) => request.method).sort()).toEqual(['GET', 'GET', 'HEAD', 'HEAD']);
  });

  it('an object the client may read as plaintext gets no tail GET with its HEAD (it would be wasted)', async () => {
    await direct.send(new PutObjectCommand({ Bucket: bucket, Key: 'legacy/plain', Body: 'not encrypted' }));
    const reader = new EncryptingS3Client({ client: s3Client(store.endpoint), keyring, allowPlaintextReads: [{ bucket, prefix: 'legacy/' }] });
    try {
      store.reset();
      expect((await reader.send(new HeadObjectCommand({ Bucket: bucket, Key: 'legacy/plain' }))).ContentLength).toBe(13);
      expect(store.requests.map((request) => request.method)).toEqual(['HEAD']);
    } finally {
      reader.destroy();
    }
  });

  it("the caller's conditions go with the tail GET: a 304 HEAD costs no body, and the error is the HEAD's", async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'head-304', Body: markedBytes(100 * KiB, 12) }));
    const { ETag } = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'head-304' }));
    store.reset();
    await expect(client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'head-304', IfNoneMatch: ETag }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 304 } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(store.requests.map((request) => [request.method, request.status, request.bodyBytesSent]).sort()).toEqual([
      ['GET', 304, 0],
      ['HEAD', 304, 0],
    ]);
  });
});
