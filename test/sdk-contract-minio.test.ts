// The S3Client contract of EncryptingS3Client against a real MinIO, through the SDK's own helpers:
// instanceof, paginators, waiters, per-command middleware (which internal requests it sees, and
// what), the callback form of send, abort signals, destroy().
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  paginateListObjectsV2,
  paginateListParts,
  DeleteObjectCommand,
  waitUntilObjectExists as sdkWaitUntilObjectExists,
  waitUntilObjectNotExists,
  type GetObjectCommandOutput,
  type HeadObjectCommandOutput,
  type PutObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { EncryptingS3Client, RawAesKeyring, S3CryptError, s3cryptInfo, waitUntilObjectExists } from '@s3crypt/client';
import { MARKER, getBody, markedBytes, testClients } from './harness/clients.js';

const KiB = 1024;
const MiB = 1024 * KiB;
let plain: S3Client;
let encrypting: EncryptingS3Client;
let keyring: RawAesKeyring;
let bucket: string;

beforeAll(async () => {
  const clients = await testClients();
  ({ plain, encrypting, bucket } = clients);
  keyring = clients.keyring as RawAesKeyring;
});

/** What one HTTP request looked like when it left, and the status it got. */
interface SeenRequest {
  readonly method: string;
  readonly query: string;
  readonly range: string | undefined;
  readonly copySource: string | undefined;
  readonly bodyLength: number | undefined;
  readonly body: Uint8Array | undefined;
  status?: number;
}

/** Adds a recording middleware to a command, as a caller would; returns what it saw. */
function recorded<C extends { middlewareStack: { add: (...args: never[]) => unknown } }>(command: C): { command: C; seen: SeenRequest[] } {
  const seen: SeenRequest[] = [];
  const middleware = (next: (args: unknown) => Promise<{ response: unknown }>) => async (args: { request: unknown }) => {
    const request = args.request as { method: string; query: Record<string, unknown>; headers: Record<string, string>; body: unknown };
    const body = request.body instanceof Uint8Array ? request.body : undefined;
    const entry: SeenRequest = {
      method: request.method,
      query: Object.keys(request.query).filter((name) => name !== 'x-id').sort().join('&'),
      range: request.headers.range,
      copySource: request.headers['x-amz-copy-source'],
      bodyLength: request.headers['content-length'] === undefined ? undefined : Number(request.headers['content-length']),
      body,
    };
    seen.push(entry);
    const result = await next(args);
    entry.status = (result.response as { statusCode: number }).statusCode;
    return result;
  };
  (command.middlewareStack.add as (mw: unknown, options: object) => void)(middleware, { step: 'finalizeRequest', name: 'recordRequests' });
  return { command, seen };
}

function containsMarker(bytes: Uint8Array | undefined): boolean {
  return bytes !== undefined && Buffer.from(bytes).includes(MARKER);
}

describe('instanceof S3Client', () => {
  it('holds without a second client, and every S3Client member is the wrapped client’s or the class’s own', () => {
    expect(encrypting).toBeInstanceOf(S3Client);
    expect(encrypting).toBeInstanceOf(EncryptingS3Client);
    expect(encrypting.config).toBe(plain.config);
    expect(encrypting.middlewareStack).toBe(plain.middlewareStack);
    expect(encrypting.initConfig).toBe(plain.initConfig);
    // Anything inherited from S3Client.prototype would run against this object: none may be.
    const inherited = new Set<PropertyKey>();
    for (let proto: object | null = S3Client.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
      for (const name of Reflect.ownKeys(proto)) if (name !== 'constructor') inherited.add(name);
    }
    // A real client's own fields; `handlers` is the cache of S3Client's own send, which is never used.
    for (const name of Reflect.ownKeys(plain)) if (name !== 'handlers') inherited.add(name);
    expect([...inherited].sort()).toEqual(['config', 'destroy', 'initConfig', 'middlewareStack', 'send']);
    // Own, or defined by EncryptingS3Client (or a subclass, such as the test harness's recording one) before S3Client.prototype.
    const ownOrClass = (name: PropertyKey) => {
      if (Object.hasOwn(encrypting, name)) return true;
      for (let proto = Object.getPrototypeOf(encrypting) as object | null; proto && proto !== S3Client.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
        if (Object.hasOwn(proto, name)) return true;
      }
      return false;
    };
    expect([...inherited].filter((name) => !ownOrClass(name))).toEqual([]);
    expect(encrypting.send).not.toBe(S3Client.prototype.send);
  });

  it('paginateListObjectsV2 accepts the client; listed sizes are the stored (ciphertext) sizes', async () => {
    const keys = ['page/a', 'page/b', 'page/c', 'page/d', 'page/e'];
    for (const Key of keys) await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'ten bytes!' }));
    const pages = [];
    for await (const page of paginateListObjectsV2({ client: encrypting, pageSize: 2 }, { Bucket: bucket, Prefix: 'page/' })) pages.push(page);
    expect(pages).toHaveLength(3);
    const listed = pages.flatMap((page) => page.Contents ?? []);
    expect(listed.map((object) => object.Key)).toEqual(keys);
    expect(listed.every((object) => (object.Size ?? 0) > 10)).toBe(true);
  });

  it('paginateListParts accepts the client; part sizes are ciphertext sizes', async () => {
    const Key = 'page/parts';
    const { UploadId } = await encrypting.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
    for (const PartNumber of [1, 2]) await encrypting.send(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber, Body: markedBytes(5 * MiB, PartNumber) }));
    const pages = [];
    for await (const page of paginateListParts({ client: encrypting, pageSize: 1 }, { Bucket: bucket, Key, UploadId })) {
      pages.push(page);
      // MinIO ends with NextPartNumberMarker "0", a truthy string, so the paginator would start over (plain client too).
      if (!page.IsTruncated) break;
    }
    const parts = pages.flatMap((page) => page.Parts ?? []);
    expect(parts.map((part) => part.PartNumber)).toEqual([1, 2]);
    expect(parts.every((part) => (part.Size ?? 0) > 5 * MiB)).toBe(true);
  });
});

describe('waiters', () => {
  it('the SDK’s waitUntilObjectExists and s3crypt’s both see an object appear; reason is the authenticated HeadObject', async () => {
    for (const [name, wait] of [['sdk', sdkWaitUntilObjectExists], ['s3crypt', waitUntilObjectExists]] as const) {
      const Key = `wait/appears-${name}`;
      const waiting = wait({ client: encrypting, minDelay: 1, maxDelay: 1, maxWaitTime: 30 }, { Bucket: bucket, Key });
      await sleep(1500);
      await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'twelve bytes' }));
      const result = await waiting;
      expect(result.state).toBe('SUCCESS');
      const head = result.reason as HeadObjectCommandOutput;
      expect(head.ContentLength).toBe(12);
      expect(s3cryptInfo(head)?.encrypted).toBe(true);
    }
  });

  it('the SDK’s waitUntilObjectNotExists sees an object go', async () => {
    const Key = 'wait/goes';
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'short-lived' }));
    const waiting = waitUntilObjectNotExists({ client: encrypting, minDelay: 1, maxDelay: 1, maxWaitTime: 30 }, { Bucket: bucket, Key });
    await sleep(1500);
    await encrypting.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
    expect((await waiting).state).toBe('SUCCESS');
  });

  async function unreadableObject() {
    const Key = `wait/unreadable-${randomBytes(4).toString('hex')}`;
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'for another key' }));
    // Same key name, another master key: the policy trusts the name, the unwrap fails (a KMS call with a KMS keyring).
    const stranger = new RawAesKeyring({ keyName: 'test-key', masterKey: randomBytes(32) });
    const unwraps = vi.spyOn(stranger, 'onDecrypt');
    return { Key, client: new EncryptingS3Client({ client: plain, keyring: stranger }), unwraps };
  }

  it('s3crypt’s waitUntilObjectExists ends at once on an object the keyring cannot read, with that error, after one unwrap', async () => {
    const { Key, client, unwraps } = await unreadableObject();
    const started = Date.now();
    const failure: unknown = await waitUntilObjectExists({ client, minDelay: 1, maxDelay: 2, maxWaitTime: 60 }, { Bucket: bucket, Key }).catch((error: unknown) => error);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(failure).toBeInstanceOf(S3CryptError);
    expect((failure as S3CryptError).code).toBe('ERR_KEY_UNWRAP_FAILED');
    expect(unwraps).toHaveBeenCalledTimes(1);
  });

  it('(the SDK’s own waiter, for contrast: it retries the same failure, unwrapping on every poll, until it times out)', async () => {
    const { Key, client, unwraps } = await unreadableObject();
    const failure = (await sdkWaitUntilObjectExists({ client, minDelay: 1, maxDelay: 1, maxWaitTime: 3 }, { Bucket: bucket, Key }).catch((error: unknown) => error)) as Error;
    expect(failure.name).toBe('TimeoutError');
    expect(unwraps.mock.calls.length).toBeGreaterThanOrEqual(2);
  });

  it('s3crypt’s waitUntilObjectExists still times out on an object that never appears, without touching a key', async () => {
    const unwraps = vi.spyOn(keyring, 'onDecrypt');
    unwraps.mockClear();
    const failure = (await waitUntilObjectExists({ client: encrypting, minDelay: 1, maxDelay: 1, maxWaitTime: 2 }, { Bucket: bucket, Key: 'wait/never' }).catch((error: unknown) => error)) as Error;
    expect(failure.name).toBe('TimeoutError');
    expect(unwraps).not.toHaveBeenCalled();
    unwraps.mockRestore();
  });
});

describe('middleware added to a command', () => {
  it('PutObject: runs on the PUT, which carries the ciphertext', async () => {
    const plaintext = markedBytes(64 * KiB);
    const { command, seen } = recorded(new PutObjectCommand({ Bucket: bucket, Key: 'mw/put', Body: plaintext }));
    const before = command.middlewareStack.identify();
    await encrypting.send(command);
    expect(seen.map((r) => [r.method, r.status])).toEqual([['PUT', 200]]);
    expect(seen[0]!.bodyLength).toBeGreaterThan(plaintext.length);
    expect(containsMarker(seen[0]!.body)).toBe(false);
    // The caller's command itself is left as it was.
    expect(command.middlewareStack.identify()).toEqual(before);
  });

  it('GetObject: runs on every internal ranged GET (tail, then body), and sees their Range headers', async () => {
    const plaintext = markedBytes(600 * KiB);
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'mw/get', Body: plaintext }));
    const { command, seen } = recorded(new GetObjectCommand({ Bucket: bucket, Key: 'mw/get' }));
    const got = await encrypting.send(command);
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(plaintext)).toBe(true);
    expect(seen.map((r) => [r.method, r.status])).toEqual([['GET', 206], ['GET', 206]]);
    expect(seen[0]!.range).toBe(`bytes=-${256 * KiB}`);
    expect(seen[1]!.range).toMatch(/^bytes=0-\d+$/);
  });

  it('HeadObject: runs on the HEAD and on the tail GET that authenticates the length', async () => {
    const { command, seen } = recorded(new HeadObjectCommand({ Bucket: bucket, Key: 'mw/get' }));
    expect((await encrypting.send(command)).ContentLength).toBe(600 * KiB);
    expect(seen.map((r) => [r.method, r.range])).toEqual([['HEAD', undefined], ['GET', `bytes=-${256 * KiB}`]]);
  });

  it('CopyObject: runs on the source read and on the COPY', async () => {
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'mw/source', Body: 'copy me' }));
    const { command, seen } = recorded(new CopyObjectCommand({ Bucket: bucket, Key: 'mw/copy', CopySource: `${bucket}/mw/source` }));
    await encrypting.send(command);
    expect(seen.map((r) => r.method)).toEqual(['GET', 'PUT']);
    expect(seen[1]!.copySource).toBe(`${bucket}/mw/source`);
    expect((await getBody(encrypting, bucket, 'mw/copy')).toString()).toBe('copy me');
  });

  it('multipart: Create, UploadPart (a small last part goes out with the trailer at its own UploadPart), Complete (reusing it)', async () => {
    const Key = 'mw/mpu';
    const create = recorded(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
    const { UploadId } = await encrypting.send(create.command);
    expect(create.seen.map((r) => [r.method, r.query])).toEqual([['POST', 'uploads']]);
    const first = recorded(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber: 1, Body: markedBytes(5 * MiB) }));
    const one = await encrypting.send(first.command);
    expect(first.seen.map((r) => [r.method, r.query])).toEqual([['PUT', 'partNumber&uploadId']]);
    expect(first.seen[0]!.bodyLength).toBeGreaterThan(5 * MiB);
    const held = recorded(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber: 2, Body: 'small last part' }));
    const two = await encrypting.send(held.command);
    expect(held.seen.map((r) => [r.method, r.query])).toEqual([['PUT', 'partNumber&uploadId']]);
    const complete = recorded(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: one.ETag }, { PartNumber: 2, ETag: two.ETag }] } }),
    );
    await encrypting.send(complete.command);
    // Complete lists exactly the attempts the small part's trailer covers, so it only completes.
    expect(complete.seen.map((r) => [r.method, r.query])).toEqual([['POST', 'uploadId']]);
    expect((await getBody(encrypting, bucket, Key)).subarray(-15).toString()).toBe('small last part');
  });
});

describe('client middleware', () => {
  it('runs on every internal request and sees ciphertext and internal ranges', async () => {
    const seen: { method: string; range?: string; bytes?: Uint8Array }[] = [];
    const client = new EncryptingS3Client({ client: testS3Client(), keyring });
    client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { method: string; headers: Record<string, string>; body: unknown };
        seen.push({ method: request.method, range: request.headers.range, ...(request.body instanceof Uint8Array ? { bytes: request.body } : {}) });
        return next(args);
      },
      { step: 'finalizeRequest', name: 'clientRecorder' },
    );
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'mw/client', Body: markedBytes(8 * KiB) }));
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'mw/client' }));
    expect(seen.map((r) => [r.method, r.range])).toEqual([['PUT', undefined], ['HEAD', undefined], ['GET', `bytes=-${256 * KiB}`]]);
    expect(containsMarker(seen[0]!.bytes)).toBe(false);
  });
});

function testS3Client(): S3Client {
  const { config } = plain;
  return new S3Client({ endpoint: config.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: config.credentials });
}

describe('send, the callback form', () => {
  it('delivers the output, with or without options, and errors through the callback', async () => {
    const put = await new Promise<PutObjectCommandOutput>((resolve, reject) => {
      const returned = encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'cb/one', Body: 'called back' }), (error, data) => (error ? reject(error as Error) : resolve(data!)));
      expect(returned).toBeUndefined();
    });
    expect(s3cryptInfo(put)?.encrypted).toBe(true);
    const got = await new Promise<GetObjectCommandOutput>((resolve, reject) => {
      encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'cb/one' }), { abortSignal: new AbortController().signal }, (error, data) => (error ? reject(error as Error) : resolve(data!)));
    });
    expect(await got.Body!.transformToString()).toBe('called back');
    const failure = await new Promise<unknown>((resolve) => {
      encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'cb/missing' }), (error) => resolve(error));
    });
    expect(failure).toMatchObject({ name: 'NoSuchKey' });
  });
});

describe('abortSignal', () => {
  it('aborting a large streamed PutObject mid-body rejects it, and nothing is stored', async () => {
    const controller = new AbortController();
    const length = 64 * MiB;
    let produced = 0;
    async function* slowPlaintext() {
      while (produced < length) {
        produced += 256 * KiB;
        if (produced >= 4 * MiB && !controller.signal.aborted) controller.abort();
        yield markedBytes(256 * KiB, produced);
        await sleep(1);
      }
    }
    const put = encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'abort/put', Body: Readable.from(slowPlaintext()), ContentLength: length }), { abortSignal: controller.signal });
    await expect(put).rejects.toMatchObject({ name: 'AbortError' });
    expect(produced).toBeLessThan(length);
    await expect(plain.send(new HeadObjectCommand({ Bucket: bucket, Key: 'abort/put' }))).rejects.toMatchObject({ name: 'NotFound' });
  });

  it('aborting while a GetObject body is being read errors the body stream', async () => {
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'abort/get', Body: markedBytes(8 * MiB) }));
    const controller = new AbortController();
    const got = await encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'abort/get' }), { abortSignal: controller.signal });
    let received = 0;
    const reading = (async () => {
      for await (const chunk of got.Body as Readable) {
        received += (chunk as Buffer).length;
        if (received >= 512 * KiB && !controller.signal.aborted) controller.abort();
      }
    })();
    await expect(reading).rejects.toThrow();
    expect(received).toBeLessThan(8 * MiB);
  });
});

describe('destroy()', () => {
  it('destroys the wrapped client and forgets the data keys of unfinished multipart uploads', async () => {
    const inner = testS3Client();
    const client = new EncryptingS3Client({ client: inner, keyring });
    const innerDestroy = vi.spyOn(inner, 'destroy');
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'destroy/mpu' }));
    client.destroy();
    expect(innerDestroy).toHaveBeenCalledTimes(1);
    await expect(client.send(new UploadPartCommand({ Bucket: bucket, Key: 'destroy/mpu', UploadId, PartNumber: 1, Body: 'x' }))).rejects.toMatchObject({ code: 'ERR_UNKNOWN_UPLOAD' });
  });
});
