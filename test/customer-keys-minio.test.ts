// SSE-C-style per-request customer keys against a real MinIO, through a recording proxy that keeps
// every request the store receives (headers, URL, body): in client-side mode no request may carry
// a customer key or its MD5 in any form; in 'store' mode the fields must reach the store.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type GetObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  callbackSink,
  CustomerKeyError,
  CustomerKeyring,
  EncryptingS3Client,
  RawAesKeyring,
  s3cryptInfo,
  withS3Crypt,
  type AuditEvent,
  type EncryptingS3ClientOptions,
} from '@s3crypt/client';
import { recordSecret } from './harness/audit-recording.js';
import { MARKER, markedBytes } from './harness/clients.js';
import { freshBucket, s3Client } from './harness/minio.js';
import { leaks, secretForms, startRecordingProxy, type RecordedRequest, type RecordingProxy } from './harness/recording-proxy.js';

const MiB = 1024 * 1024;
const SEGMENT = 64 * 1024;

function newKey(): Buffer {
  const key = randomBytes(32);
  recordSecret('customer key', key);
  return key;
}

/** The three SSE-C fields as an SSE-C caller writes them (the SDK computes the MD5 itself if absent). */
function sseC(key: Uint8Array | string) {
  const base64 = typeof key === 'string' && Buffer.from(key, 'base64').length === 32 && Buffer.from(key, 'base64').toString('base64') === key;
  const bytes = typeof key === 'string' ? Buffer.from(key, base64 ? 'base64' : 'utf8') : Buffer.from(key);
  return { SSECustomerAlgorithm: 'AES256', SSECustomerKey: key as string, SSECustomerKeyMD5: createHash('md5').update(bytes).digest('base64') };
}

function copySourceSseC(key: Uint8Array) {
  const fields = sseC(key);
  return { CopySourceSSECustomerAlgorithm: fields.SSECustomerAlgorithm, CopySourceSSECustomerKey: fields.SSECustomerKey, CopySourceSSECustomerKeyMD5: fields.SSECustomerKeyMD5 };
}

const K1 = newKey();
const K2 = newKey();
/** A key given as 32 raw characters, as the SDK also accepts. */
const K3_TEXT = 'customer-key-as-32-characters-!!';
recordSecret('customer key (text)', K3_TEXT);
const ALL_KEYS = [K1, K2, Buffer.from(K3_TEXT)];
/** Every form of every customer key and of its MD5 that a request could carry. */
const KEY_FORMS = ALL_KEYS.flatMap((key) => [...secretForms(key), ...secretForms(createHash('md5').update(key).digest())]);

let proxy: RecordingProxy;
let direct: S3Client;
let viaProxy: S3Client;
let bucket: string;
let masterKey: Buffer;
let client: EncryptingS3Client;
const events: AuditEvent[] = [];
/** Requests of the client-side tests, all searched for keys. */
const searched: RecordedRequest[] = [];

function encryptingClient(extra: Partial<EncryptingS3ClientOptions> = {}): EncryptingS3Client {
  return new EncryptingS3Client({
    client: viaProxy,
    keyring: new RawAesKeyring({ keyName: 'client-key', masterKey }),
    segmentSize: SEGMENT,
    audit: { sink: callbackSink((event) => void events.push(event)) },
    ...extra,
  });
}

beforeAll(async () => {
  proxy = await startRecordingProxy(inject('s3'));
  direct = s3Client(inject('s3'));
  viaProxy = s3Client(proxy.endpoint);
  bucket = await freshBucket(direct, 'customer-keys');
  masterKey = randomBytes(32);
  client = encryptingClient();
});

afterAll(async () => {
  await proxy.stop();
  direct.destroy();
});

describe('client-side (the default): the key never leaves the process', () => {
  afterEach(() => {
    const requests = proxy.take();
    searched.push(...requests);
    expect(leaks(requests, KEY_FORMS)).toEqual([]);
  });

  async function body(input: GetObjectCommandInput, via: S3Client = client): Promise<Buffer> {
    const response = await via.send(new GetObjectCommand(input));
    return Buffer.from(await response.Body!.transformToByteArray());
  }

  async function envelopeProviders(key: string): Promise<string[]> {
    const head = await direct.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    const value = Buffer.from(head.Metadata!['s3crypt-envelope']!, 'base64');
    // Providers are the printable-ASCII runs the envelope names them by (FORMAT.md §2): enough to tell which.
    return ['s3crypt-customer-key', 'raw-aes'].filter((provider) => value.includes(Buffer.from(provider)));
  }

  it('PutObject / GetObject round trip with the key as bytes, as base64 and as 32 characters', async () => {
    const data = markedBytes(300_000, 1);
    for (const [name, key] of [
      ['bytes', K1],
      ['base64', K1.toString('base64')],
      ['text', K3_TEXT],
    ] as const) {
      const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: `put/${name}`, Body: data, ContentType: 'text/x-test', ...sseC(key) }));
      expect(s3cryptInfo(put)?.encrypted).toBe(true);
      expect((await body({ Bucket: bucket, Key: `put/${name}`, ...sseC(key) })).equals(data)).toBe(true);
      // The store holds ciphertext under an envelope naming only the customer key, and no SSE-C.
      const stored = await direct.send(new GetObjectCommand({ Bucket: bucket, Key: `put/${name}` }));
      expect(stored.SSECustomerAlgorithm).toBeUndefined();
      expect(Buffer.from(await stored.Body!.transformToByteArray()).includes(MARKER)).toBe(false);
      expect(await envelopeProviders(`put/${name}`)).toEqual(['s3crypt-customer-key']);
    }
    // The same key in another form reads it: bytes written, base64 read.
    expect((await body({ Bucket: bucket, Key: 'put/bytes', ...sseC(K1.toString('base64')) })).equals(data)).toBe(true);
  });

  it('GetObject ranges and HeadObject (plaintext length) with the key', async () => {
    const data = markedBytes(5 * SEGMENT + 123, 2);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'ranges', Body: data, ...sseC(K1) }));
    for (const [range, expected] of [
      ['bytes=0-9', data.subarray(0, 10)],
      ['bytes=100-', data.subarray(100)],
      ['bytes=-50', data.subarray(-50)],
      [`bytes=${SEGMENT - 5}-${3 * SEGMENT + 5}`, data.subarray(SEGMENT - 5, 3 * SEGMENT + 6)],
    ] as const) {
      expect((await body({ Bucket: bucket, Key: 'ranges', Range: range, ...sseC(K1) })).equals(expected)).toBe(true);
    }
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'ranges', ...sseC(K1) }));
    expect(head.ContentLength).toBe(data.length);
    expect(s3cryptInfo(head)?.encrypted).toBe(true);
  });

  it('a missing key is ERR_CUSTOMER_KEY_REQUIRED, a wrong one ERR_CUSTOMER_KEY_MISMATCH, on GET and HEAD, before any plaintext', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'guarded', Body: markedBytes(1000, 3), ...sseC(K1) }));
    for (const send of [
      (extra: object) => client.send(new GetObjectCommand({ Bucket: bucket, Key: 'guarded', ...extra })),
      (extra: object) => client.send(new GetObjectCommand({ Bucket: bucket, Key: 'guarded', Range: 'bytes=0-0', ...extra })),
      (extra: object) => client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'guarded', ...extra })),
    ]) {
      const missing = await send({}).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(CustomerKeyError);
      expect(missing).toMatchObject({ code: 'ERR_CUSTOMER_KEY_REQUIRED', bucket, key: 'guarded' });
      const wrong = await send(sseC(K2)).catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(CustomerKeyError);
      expect(wrong).toMatchObject({ code: 'ERR_CUSTOMER_KEY_MISMATCH', bucket, key: 'guarded' });
      for (const form of secretForms(K2).map(String)) expect((wrong as Error).message).not.toContain(form);
    }
  });

  it('a customer key presented for an object under the client keyring is ERR_CUSTOMER_KEY_NOT_APPLICABLE', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'keyring-object', Body: 'under the keyring' }));
    const error = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'keyring-object', ...sseC(K1) })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_CUSTOMER_KEY_NOT_APPLICABLE' });
  });

  it('lib-storage Upload (multipart, small last part) unchanged; reads by PartNumber and across parts', async () => {
    const data = markedBytes(2 * 5 * MiB + 100_000, 4);
    const tags = [{ Key: 'kind', Value: 'upload' }];
    const upload = new Upload({ client, params: { Bucket: bucket, Key: 'upload', Body: Readable.from([data]), ...sseC(K2) }, partSize: 5 * MiB, queueSize: 2, tags });
    const done = await upload.done();
    expect(s3cryptInfo(done)?.encrypted).toBe(true);
    // lib-storage sends its PutObjectTagging with every Upload parameter, the key included: passed through without it.
    expect((await direct.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'upload' }))).TagSet).toEqual(tags);
    expect((await body({ Bucket: bucket, Key: 'upload', ...sseC(K2) })).equals(data)).toBe(true);
    expect((await body({ Bucket: bucket, Key: 'upload', PartNumber: 3, ...sseC(K2) })).equals(data.subarray(10 * MiB))).toBe(true);
    const across = `bytes=${5 * MiB - 10}-${5 * MiB + 9}`;
    expect((await body({ Bucket: bucket, Key: 'upload', Range: across, ...sseC(K2) })).equals(data.subarray(5 * MiB - 10, 5 * MiB + 10))).toBe(true);
    expect((await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'upload', ...sseC(K2) }))).ContentLength).toBe(data.length);
    await expect(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'upload', ...sseC(K1) }))).rejects.toMatchObject({ code: 'ERR_CUSTOMER_KEY_MISMATCH' });
    expect(await envelopeProviders('upload')).toEqual(['s3crypt-customer-key']);
  });

  it('every UploadPart must present the key the upload was created with; Complete needs none', async () => {
    const Key = 'manual-upload';
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key, ...sseC(K1) }));
    const part = (PartNumber: number, extra: object) => client.send(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber, Body: markedBytes(1000, PartNumber), ...extra }));
    const before = proxy.requests.length;
    await expect(part(1, {})).rejects.toMatchObject({ code: 'ERR_CUSTOMER_KEY_REQUIRED' });
    await expect(part(1, sseC(K2))).rejects.toMatchObject({ code: 'ERR_CUSTOMER_KEY_MISMATCH' });
    expect(proxy.requests.length).toBe(before); // refused before anything was sent
    const ok = await part(1, sseC(K1));
    await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: ok.ETag }] } }));
    expect((await body({ Bucket: bucket, Key, ...sseC(K1) })).equals(markedBytes(1000, 1))).toBe(true);
    // And no key may be presented for an upload under the client keyring.
    const plainUpload = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'keyring-upload' }));
    await expect(
      client.send(new UploadPartCommand({ Bucket: bucket, Key: 'keyring-upload', UploadId: plainUpload.UploadId, PartNumber: 1, Body: 'x', ...sseC(K1) })),
    ).rejects.toMatchObject({ code: 'ERR_CUSTOMER_KEY_NOT_APPLICABLE' });
  });

  it('CopyObject customer → customer (another key), customer → keyring, keyring → customer, and in place (rotation)', async () => {
    const data = markedBytes(200_000, 5);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'copy/source', Body: data, ...sseC(K1) }));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'copy/keyring-source', Body: data }));

    await client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy/c2c', CopySource: `${bucket}/copy/source`, ...copySourceSseC(K1), ...sseC(K2) }));
    expect((await body({ Bucket: bucket, Key: 'copy/c2c', ...sseC(K2) })).equals(data)).toBe(true);
    await expect(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'copy/c2c', ...sseC(K1) }))).rejects.toMatchObject({ code: 'ERR_CUSTOMER_KEY_MISMATCH' });

    await client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy/c2k', CopySource: `${bucket}/copy/source`, ...copySourceSseC(K1) }));
    expect((await body({ Bucket: bucket, Key: 'copy/c2k' })).equals(data)).toBe(true);
    expect(await envelopeProviders('copy/c2k')).toEqual(['raw-aes']);

    await client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy/k2c', CopySource: `${bucket}/copy/keyring-source`, ...sseC(K2) }));
    expect((await body({ Bucket: bucket, Key: 'copy/k2c', ...sseC(K2) })).equals(data)).toBe(true);
    await expect(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'copy/k2c' }))).rejects.toMatchObject({ code: 'ERR_CUSTOMER_KEY_REQUIRED' });

    // The source's key is checked like any read's: a wrong or missing one writes nothing.
    await expect(client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy/never', CopySource: `${bucket}/copy/source`, ...copySourceSseC(K2) }))).rejects.toMatchObject({
      code: 'ERR_CUSTOMER_KEY_MISMATCH',
    });
    await expect(client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy/never', CopySource: `${bucket}/copy/source` }))).rejects.toMatchObject({ code: 'ERR_CUSTOMER_KEY_REQUIRED' });
    await expect(direct.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copy/never' }))).rejects.toMatchObject({ name: 'NotFound' });

    // Rotating an object's customer key in place: the data bytes are untouched, only the key is re-wrapped.
    const storedBefore = Buffer.from(await (await direct.send(new GetObjectCommand({ Bucket: bucket, Key: 'copy/source' }))).Body!.transformToByteArray());
    await client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy/source', CopySource: `${bucket}/copy/source`, ...copySourceSseC(K1), ...sseC(K2) }));
    const storedAfter = Buffer.from(await (await direct.send(new GetObjectCommand({ Bucket: bucket, Key: 'copy/source' }))).Body!.transformToByteArray());
    expect(storedAfter.equals(storedBefore)).toBe(true);
    expect((await body({ Bucket: bucket, Key: 'copy/source', ...sseC(K2) })).equals(data)).toBe(true);
    await expect(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'copy/source', ...sseC(K1) }))).rejects.toMatchObject({ code: 'ERR_CUSTOMER_KEY_MISMATCH' });
  });

  it('escrow: with customerKeyEscrow the client keyring also opens the object; the customer key still must match', async () => {
    const escrow = encryptingClient({ customerKeyEscrow: true });
    const data = markedBytes(10_000, 6);
    await escrow.send(new PutObjectCommand({ Bucket: bucket, Key: 'escrowed', Body: data, ...sseC(K1) }));
    expect(await envelopeProviders('escrowed')).toEqual(['s3crypt-customer-key', 'raw-aes']);
    expect((await body({ Bucket: bucket, Key: 'escrowed' }, escrow)).equals(data)).toBe(true);
    expect((await body({ Bucket: bucket, Key: 'escrowed', ...sseC(K1) }, escrow)).equals(data)).toBe(true);
    await expect(escrow.send(new GetObjectCommand({ Bucket: bucket, Key: 'escrowed', ...sseC(K2) }))).rejects.toMatchObject({ code: 'ERR_CUSTOMER_KEY_MISMATCH' });
    // Without escrow the same object is read the same way: escrow is a property of the object.
    expect((await body({ Bucket: bucket, Key: 'escrowed' })).equals(data)).toBe(true);
  });

  it('a client whose keyring is a CustomerKeyring reads and writes customer-key objects without per-request fields', async () => {
    const fixed = encryptingClient({ keyring: new CustomerKeyring(K1) });
    await fixed.send(new PutObjectCommand({ Bucket: bucket, Key: 'fixed-key', Body: 'fixed' }));
    expect((await body({ Bucket: bucket, Key: 'fixed-key', ...sseC(K1) })).toString()).toBe('fixed');
    expect((await body({ Bucket: bucket, Key: 'fixed-key' }, fixed)).toString()).toBe('fixed');
  });

  it('commands passed through are sent without the SSE-C fields (GetObjectAttributes, ListParts); the caller’s command is untouched', async () => {
    const command = new GetObjectAttributesCommand({ Bucket: bucket, Key: 'guarded', ObjectAttributes: ['ObjectSize'], ...sseC(K1) });
    const attributes = await client.send(command);
    expect(attributes.ObjectSize).toBeGreaterThan(1000); // the stored (ciphertext) size
    expect(command.input.SSECustomerKey).toBe(K1);
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'listed', ...sseC(K1) }));
    const listed = await client.send(new ListPartsCommand({ Bucket: bucket, Key: 'listed', UploadId, ...sseC(K1) }));
    expect(listed.Parts ?? []).toEqual([]);
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'listed', UploadId }));
  });

  it('audit events name the customer key by its fingerprint only; a refused part is a customer-key event', async () => {
    events.length = 0;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'audited', Body: 'audited', ...sseC(K1) }));
    await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'audited', ...sseC(K1) }));
    await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'audited', ...sseC(K2) })).catch(() => undefined);
    await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'audited' })).catch(() => undefined);
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'audited-upload', ...sseC(K1) }));
    await client.send(new UploadPartCommand({ Bucket: bucket, Key: 'audited-upload', UploadId, PartNumber: 1, Body: 'x', ...sseC(K2) })).catch(() => undefined);
    await client.flushAudit();
    const summary = events.map((e) => [e.command, e.operation, e.outcome, e.reason ?? null, e.keyFingerprint !== undefined]);
    expect(summary).toEqual([
      ['PutObject', 'generate', 'success', null, true],
      ['PutObject', 'store', 'success', null, false],
      ['GetObject', 'unwrap', 'success', null, true],
      ['GetObject', 'unwrap', 'failure', 'ERR_CUSTOMER_KEY_MISMATCH', true],
      ['GetObject', 'policy', 'refused', 'ERR_CUSTOMER_KEY_REQUIRED', false],
      ['CreateMultipartUpload', 'generate', 'success', null, true],
      ['UploadPart', 'customer-key', 'refused', 'ERR_CUSTOMER_KEY_MISMATCH', true],
    ]);
    for (const event of events.filter((e) => e.keyFingerprint !== undefined)) {
      expect(event.keyFingerprint).toMatch(/^v1\.[A-Za-z0-9_-]{64}$/);
      expect(event.keks?.some((kek) => kek.providerId === 's3crypt-customer-key' && kek.keyId === event.keyFingerprint) ?? event.operation === 'customer-key').toBe(true);
    }
    // One key, two objects: two unrelated fingerprints.
    expect(events[0]!.keyFingerprint).not.toBe(events[5]!.keyFingerprint);
    const text = JSON.stringify(events);
    for (const form of KEY_FORMS) expect(text).not.toContain(form.toString('latin1'));
  });

  it('the recording proxy saw the traffic it vouches for', () => {
    // Guards the leak check itself: it searched real requests, with bodies, of every kind sent above.
    const methods = new Set(searched.map((r) => r.method));
    expect([...methods].sort()).toEqual(expect.arrayContaining(['GET', 'HEAD', 'POST', 'PUT']));
    expect(searched.reduce((sum, r) => sum + r.body.length, 0)).toBeGreaterThan(10 * MiB);
    expect(searched.some((r) => r.url.includes('uploadId='))).toBe(true);
  });
});

describe("'store': the fields go to the store as real SSE-C", () => {
  afterEach(() => proxy.take());

  /** The SSE-C headers of the recorded requests for `key`, by method. */
  function sseCHeaders(requests: readonly RecordedRequest[], key: string) {
    return requests
      .filter((r) => r.url.split('?')[0]!.endsWith(`/${key}`))
      .map((r) => ({
        method: r.method,
        headers: Object.fromEntries(r.headers.filter(([name]) => name.toLowerCase().startsWith('x-amz-server-side-encryption-customer')).map(([name, value]) => [name.toLowerCase(), value])),
      }));
  }

  // MinIO refuses SSE-C over plain HTTP (it requires TLS for customer keys), so what is asserted is
  // what the store was sent, from the recording proxy, and that MinIO's refusal reaches the caller.
  for (const [label, make] of [
    ["the client option customerKeys: 'store'", () => ({ sender: encryptingClient({ customerKeys: 'store' }), wrap: <C extends object>(c: C) => c })],
    ["withS3Crypt(command, { customerKeys: 'store' })", () => ({ sender: client, wrap: <C extends object>(c: C) => withS3Crypt(c, { customerKeys: 'store' }) })],
  ] as const) {
    it(`${label}: PutObject sends the key and its MD5 to the store`, async () => {
      const { sender, wrap } = make();
      const outcome = await sender.send(wrap(new PutObjectCommand({ Bucket: bucket, Key: 'store-mode', Body: 'x', ...sseC(K1) }))).then(
        () => 'stored',
        (error: { name?: string; $metadata?: { httpStatusCode?: number } }) => error.$metadata?.httpStatusCode ?? error.name,
      );
      const requests = proxy.take();
      expect(sseCHeaders(requests, 'store-mode')).toEqual([
        {
          method: 'PUT',
          headers: {
            'x-amz-server-side-encryption-customer-algorithm': 'AES256',
            'x-amz-server-side-encryption-customer-key': K1.toString('base64'),
            'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(K1).digest('base64'),
          },
        },
      ]);
      // The leak check finds it here: it is able to fail.
      expect(leaks(requests, KEY_FORMS).length).toBeGreaterThan(0);
      expect(outcome).toBe(400); // MinIO: SSE-C needs TLS
    });
  }
});
