// Writing S3EC V3 through EncryptingS3Client against an in-memory store that records every request:
// what is stored and in which order, the multipart stream rules (parts in order, retries only with the
// same bytes, the tag at the end), refusals before anything is sent, and the option checks. The
// integration test (test/s3ec-write-minio.test.ts) has the official Python client read the results.
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createCipheriv, generateKeyPairSync, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EncryptingS3Client } from '../src/client/encrypting-client.js';
import { s3ecV3CiphertextAt } from '../src/client/s3ec-multipart.js';
import { resolveS3ecOptions, resolveS3ecWrite } from '../src/client/s3ec-options.js';
import { withS3Crypt } from '../src/client/request-options.js';
import { S3CryptError } from '../src/errors.js';
import { parseS3ecEnvelope } from '../src/format/s3ec/envelope.js';
import type { Keyring } from '../src/keyrings/keyring.js';
import { MultiKeyring } from '../src/keyrings/multi.js';
import { RawAesKeyring } from '../src/keyrings/raw-aes.js';
import { S3ecAesKeyring } from '../src/keyrings/s3ec-aes.js';
import { S3ecRsaKeyring } from '../src/keyrings/s3ec-rsa.js';
import { readObject } from './s3ec-helpers.js';

const MiB = 1024 * 1024;
const Bucket = 'b';

interface Sent {
  readonly command: string;
  readonly input: Record<string, unknown>;
}

/** A store that keeps objects and multipart uploads in memory, and the log of what it was sent. */
class MemoryStore {
  readonly sent: Sent[] = [];
  readonly objects = new Map<string, { body: Buffer; metadata: Record<string, string> }>();
  readonly uploads = new Map<string, { key: string; metadata: Record<string, string>; parts: Map<number, Buffer> }>();
  #ids = 0;

  readonly client = {
    config: {},
    middlewareStack: {},
    destroy: () => undefined,
    send: (command: { constructor: { name: string }; input: Record<string, unknown> }, options?: { abortSignal?: AbortSignal }) =>
      this.#send(command.constructor.name.replace(/Command$/, ''), command.input, options?.abortSignal),
  } as unknown as S3Client;

  async #send(command: string, input: Record<string, unknown>, signal: AbortSignal | undefined): Promise<unknown> {
    this.sent.push({ command, input });
    // As the SDK does: a request whose body failed is aborted, and nothing is stored.
    const bytes = async (body: unknown) => {
      const read = await bodyBytes(body);
      signal?.throwIfAborted();
      return read;
    };
    const key = String(input.Key);
    switch (command) {
      case 'PutObject':
        this.objects.set(key, { body: await bytes(input.Body), metadata: (input.Metadata ?? {}) as Record<string, string> });
        return { ETag: '"put"', $metadata: {} };
      case 'CreateMultipartUpload': {
        const UploadId = `upload-${++this.#ids}`;
        this.uploads.set(UploadId, { key, metadata: (input.Metadata ?? {}) as Record<string, string>, parts: new Map() });
        return { UploadId, $metadata: {} };
      }
      case 'UploadPart': {
        const body = await bytes(input.Body);
        if (body.length !== input.ContentLength) throw new Error(`part of ${body.length} bytes sent with ContentLength ${String(input.ContentLength)}`);
        this.uploads.get(String(input.UploadId))!.parts.set(Number(input.PartNumber), body);
        return { ETag: `"${String(input.PartNumber)}-${body.toString('base64').slice(0, 12)}-${body.length}"`, $metadata: {} };
      }
      case 'CompleteMultipartUpload': {
        const upload = this.uploads.get(String(input.UploadId))!;
        const parts = (input.MultipartUpload as { Parts: { PartNumber: number }[] }).Parts;
        parts.forEach((part, index) => expect(part.PartNumber).toBe(index + 1));
        this.objects.set(upload.key, { body: Buffer.concat(parts.map((part) => upload.parts.get(part.PartNumber)!)), metadata: upload.metadata });
        this.uploads.delete(String(input.UploadId));
        return { ETag: '"mpu"', $metadata: {} };
      }
      case 'AbortMultipartUpload':
        this.uploads.delete(String(input.UploadId));
        return { $metadata: {} };
      case 'DeleteObject':
        this.objects.delete(key);
        return { $metadata: {} };
      default:
        throw new Error(`the memory store does not do ${command}`);
    }
  }

  commands(): string[] {
    return this.sent.map((s) => (s.command === 'PutObject' ? `PutObject ${String(s.input.Key)}` : s.command));
  }
}

async function bodyBytes(body: unknown): Promise<Buffer> {
  if (body === undefined) return Buffer.alloc(0);
  if (body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

const wrappingKey = Buffer.alloc(32, 0x5a);
const aes = () => new S3ecAesKeyring({ wrappingKey, materialDescription: { app: 'unit' } });

function writer(keyring: Keyring = aes(), write: boolean | { instructionFile?: boolean } = true) {
  const store = new MemoryStore();
  return { store, client: new EncryptingS3Client({ client: store.client, keyring, s3ec: { write } }) };
}

async function plaintextOf(store: MemoryStore, key: string, reader: Keyring = aes()): Promise<Buffer> {
  const object = store.objects.get(key)!;
  const instruction = store.objects.get(`${key}.instruction`);
  const envelope = parseS3ecEnvelope(object.metadata, instruction?.body);
  expect(envelope.formatVersion).toBe(3);
  return readObject(envelope, reader, object.body);
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => expect.unreachable('expected a refusal'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(S3CryptError);
  return (error as S3CryptError).code;
}

describe('GCM ciphertext at an offset (re-sending a part)', () => {
  it('equals what the GCM stream produced there, at any offset', () => {
    const key = randomBytes(32);
    const iv = Buffer.alloc(12, 0x01);
    const plaintext = randomBytes(1000);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from([0x00, 0x73]));
    const whole = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    for (const [start, end] of [[0, 1000], [16, 64], [5, 21], [999, 1000], [17, 500]] as const) {
      expect(s3ecV3CiphertextAt(key, start, plaintext.subarray(start, end)).equals(whole.subarray(start, end)), `${start}-${end}`).toBe(true);
    }
  });
});

describe('PutObject in S3EC V3', () => {
  for (const size of [0, 1, 16, 17, 70_000]) {
    it(`${size} bytes, a Buffer and a stream: stored as plaintext + 16 with the V3 metadata`, async () => {
      const { store, client } = writer();
      const plaintext = randomBytes(size);
      await client.send(new PutObjectCommand({ Bucket, Key: 'buf', Body: plaintext, Metadata: { owner: 'me' } }));
      await client.send(new PutObjectCommand({ Bucket, Key: 'stream', Body: Readable.from([plaintext.subarray(0, 7), plaintext.subarray(7)]), ContentLength: size }));
      for (const key of ['buf', 'stream']) {
        const stored = store.objects.get(key)!;
        expect(stored.body.length).toBe(size + 16);
        expect((await plaintextOf(store, key)).equals(plaintext)).toBe(true);
      }
      expect(Object.keys(store.objects.get('buf')!.metadata).sort()).toEqual(['owner', 'x-amz-3', 'x-amz-c', 'x-amz-d', 'x-amz-i', 'x-amz-m', 'x-amz-w']);
      expect(store.objects.get('buf')!.metadata).toMatchObject({ 'x-amz-c': '115', 'x-amz-w': '02', 'x-amz-m': '{"app":"unit"}' });
    });
  }

  it('RSA-OAEP-SHA1 with a public key only: written as 22, read with the private key', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const { store, client } = writer(new S3ecRsaKeyring({ publicKey }));
    await client.send(new PutObjectCommand({ Bucket, Key: 'rsa', Body: 'hello' }));
    expect(store.objects.get('rsa')!.metadata['x-amz-w']).toBe('22');
    expect((await plaintextOf(store, 'rsa', new S3ecRsaKeyring({ privateKey }))).toString()).toBe('hello');
  });

  it('instruction-file mode writes <key>.instruction first, then the object with c/d/i only', async () => {
    const { store, client } = writer(aes(), { instructionFile: true });
    const out = await client.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'in the file' }));
    expect(store.commands()).toEqual(['PutObject k.instruction', 'PutObject k']);
    expect(Object.keys(store.objects.get('k')!.metadata).sort()).toEqual(['x-amz-c', 'x-amz-d', 'x-amz-i']);
    expect(store.objects.get('k.instruction')!.metadata).toEqual({ 'x-amz-crypto-instr-file': '' });
    expect(Object.keys(JSON.parse(store.objects.get('k.instruction')!.body.toString()) as object).sort()).toEqual(['x-amz-3', 'x-amz-m', 'x-amz-w']);
    expect((await plaintextOf(store, 'k')).toString()).toBe('in the file');
    expect((out as { S3Crypt?: unknown }).S3Crypt).toEqual({ encrypted: true, format: 's3ec', formatVersion: 3 });
  });

  it('instruction-file mode refuses conditional writes, before anything is sent', async () => {
    const { store, client } = writer(aes(), { instructionFile: true });
    await expect(client.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x', IfNoneMatch: '*' }))).rejects.toThrow(TypeError);
    expect(store.sent).toEqual([]);
  });

  it('a stream of the wrong length deletes the instruction file it wrote; no object remains', async () => {
    const { store, client } = writer(aes(), { instructionFile: true });
    expect(await codeOf(client.send(new PutObjectCommand({ Bucket, Key: 'short', Body: Readable.from([Buffer.alloc(10)]), ContentLength: 11 })))).toBe('ERR_BODY_LENGTH_MISMATCH');
    expect([...store.objects.keys()]).toEqual([]);
  });

  const refused: [string, () => Keyring][] = [
    ["s3crypt's RawAesKeyring", () => new RawAesKeyring({ keyName: 'k', masterKey: Buffer.alloc(32, 1) })],
    ['a MultiKeyring with two keys', () => new MultiKeyring({ generator: aes(), children: [new S3ecAesKeyring({ wrappingKey: Buffer.alloc(32, 2) })] })],
  ];
  for (const [label, keyring] of refused) {
    it(`${label} cannot produce an S3EC wrapping: ERR_S3EC_WRAPPING_UNSUPPORTED, nothing sent (PutObject and CreateMultipartUpload)`, async () => {
      const { store, client } = writer(keyring());
      expect(await codeOf(client.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x' })))).toBe('ERR_S3EC_WRAPPING_UNSUPPORTED');
      expect(await codeOf(client.send(new CreateMultipartUploadCommand({ Bucket, Key: 'k' })))).toBe('ERR_S3EC_WRAPPING_UNSUPPORTED');
      expect(store.sent).toEqual([]);
    });
  }

  it('a client-side customer key is refused; so are reserved metadata names and a context with a raw keyring (nothing sent)', async () => {
    const { store, client } = writer();
    const SSECustomerKey = Buffer.alloc(32, 3).toString('base64');
    expect(await codeOf(client.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x', SSECustomerAlgorithm: 'AES256', SSECustomerKey })))).toBe('ERR_S3EC_WRAPPING_UNSUPPORTED');
    await expect(client.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x', Metadata: { 'X-Amz-C': '115' } }))).rejects.toThrow(TypeError);
    await expect(client.send(withS3Crypt(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x' }), { encryptionContext: { tenant: 'a' } }))).rejects.toThrow(/raw keyrings store no encryption context/);
    await expect(client.send(withS3Crypt(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x' }), { encryptionContext: { 'aws:x-amz-cek-alg': '115' } }))).rejects.toThrow(TypeError);
    expect(store.sent).toEqual([]);
  });

  it("s3ecWrite on a command overrides the client's choice, both ways", async () => {
    const { store, client } = writer();
    await client.send(withS3Crypt(new PutObjectCommand({ Bucket, Key: 'own', Body: 'x' }), { s3ecWrite: false }));
    expect(Object.keys(store.objects.get('own')!.metadata).some((name) => name.startsWith('s3crypt'))).toBe(true);
    const plainClient = new EncryptingS3Client({ client: store.client, keyring: aes() });
    await plainClient.send(withS3Crypt(new PutObjectCommand({ Bucket, Key: 's3ec', Body: 'y' }), { s3ecWrite: { instructionFile: true } }));
    expect((await plaintextOf(store, 's3ec')).toString()).toBe('y');
  });
});

describe('multipart in S3EC V3: one stream, parts in order', () => {
  async function create(client: EncryptingS3Client, Key = 'mpu') {
    return (await client.send(new CreateMultipartUploadCommand({ Bucket, Key }))).UploadId!;
  }
  const part = (UploadId: string, PartNumber: number, Body: Uint8Array | Readable, Key = 'mpu', ContentLength?: number) =>
    new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body, ...(ContentLength !== undefined ? { ContentLength } : {}) });
  const complete = (UploadId: string, Parts: { PartNumber: number; ETag?: string }[], Key = 'mpu') =>
    new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } });

  it('metadata at Create; full-size parts sent together keep their order; the tag is a 16-byte part of its own', async () => {
    const { store, client } = writer();
    const UploadId = await create(client);
    expect(store.uploads.get(UploadId)!.metadata['x-amz-c']).toBe('115');
    const plaintext = randomBytes(15 * MiB);
    // Sent without awaiting one another, as lib-storage's queue does.
    const outs = await Promise.all([1, 2, 3].map((n) => client.send(part(UploadId, n, plaintext.subarray((n - 1) * 5 * MiB, n * 5 * MiB)))));
    await client.send(complete(UploadId, outs.map((o, i) => ({ PartNumber: i + 1, ETag: o.ETag }))));
    const stored = store.objects.get('mpu')!;
    expect(stored.body.length).toBe(plaintext.length + 16);
    expect(store.sent.filter((s) => s.command === 'UploadPart').map((s) => [s.input.PartNumber, s.input.ContentLength])).toEqual([[1, 5 * MiB], [2, 5 * MiB], [3, 5 * MiB], [4, 16]]);
    expect((await plaintextOf(store, 'mpu')).equals(plaintext)).toBe(true);
  });

  it('a short last part carries the tag; a part after it, or out of order, is refused before it is sent', async () => {
    const { store, client } = writer();
    const UploadId = await create(client);
    const plaintext = randomBytes(5 * MiB + 100);
    expect(await codeOf(client.send(part(UploadId, 2, plaintext.subarray(5 * MiB))))).toBe('ERR_PART_OUT_OF_ORDER');
    const one = await client.send(part(UploadId, 1, plaintext.subarray(0, 5 * MiB)));
    const two = await client.send(part(UploadId, 2, Readable.from([plaintext.subarray(5 * MiB)]), 'mpu', 100));
    expect(await codeOf(client.send(part(UploadId, 3, Buffer.alloc(10))))).toBe('ERR_PART_OUT_OF_ORDER');
    expect(store.sent.filter((s) => s.command === 'UploadPart').length).toBe(2);
    await client.send(complete(UploadId, [{ PartNumber: 1, ETag: one.ETag }, { PartNumber: 2, ETag: two.ETag }]));
    expect(store.sent.filter((s) => s.command === 'UploadPart').length).toBe(2);
    expect((await plaintextOf(store, 'mpu')).equals(plaintext)).toBe(true);
  });

  it('a retried part with the same bytes is the same ciphertext; with other bytes it is refused', async () => {
    const { store, client } = writer();
    const UploadId = await create(client);
    const first = randomBytes(5 * MiB);
    const last = randomBytes(33);
    const a = await client.send(part(UploadId, 1, first));
    await client.send(part(UploadId, 2, last));
    const again = await client.send(part(UploadId, 1, Buffer.from(first)));
    const lastAgain = await client.send(part(UploadId, 2, Buffer.from(last)));
    expect(again.ETag).toBe(a.ETag);
    const other = Buffer.from(first);
    other[0]! ^= 1;
    expect(await codeOf(client.send(part(UploadId, 1, other)))).toBe('ERR_PART_OUT_OF_ORDER');
    expect(await codeOf(client.send(part(UploadId, 1, Readable.from([first]), 'mpu', first.length)))).toBe('ERR_PART_OUT_OF_ORDER');
    await client.send(complete(UploadId, [{ PartNumber: 1, ETag: again.ETag }, { PartNumber: 2, ETag: lastAgain.ETag }]));
    expect((await plaintextOf(store, 'mpu')).equals(Buffer.concat([first, last]))).toBe(true);
  });

  it('Complete must list every part of the stream; otherwise the upload is aborted', async () => {
    const { store, client } = writer();
    const UploadId = await create(client);
    const one = await client.send(part(UploadId, 1, randomBytes(5 * MiB)));
    await client.send(part(UploadId, 2, randomBytes(5 * MiB)));
    expect(await codeOf(client.send(complete(UploadId, [{ PartNumber: 1, ETag: one.ETag }])))).toBe('ERR_PART_OUT_OF_ORDER');
    expect(store.uploads.size).toBe(0);
    expect(store.objects.size).toBe(0);
  });

  it('a stream part that fails midway breaks the upload: later parts and Complete are refused', async () => {
    const { client } = writer();
    const UploadId = await create(client);
    expect(await codeOf(client.send(part(UploadId, 1, Readable.from([Buffer.alloc(10)]), 'mpu', 5 * MiB)))).toBe('ERR_BODY_LENGTH_MISMATCH');
    expect(await codeOf(client.send(part(UploadId, 2, Buffer.alloc(10))))).toBe('ERR_UPLOAD_BROKEN');
    expect(await codeOf(client.send(complete(UploadId, [])))).toBe('ERR_UPLOAD_BROKEN');
  });

  it('no parts at all: an empty object (the tag alone), in instruction-file mode written just before Complete', async () => {
    const { store, client } = writer(aes(), { instructionFile: true });
    const UploadId = await create(client, 'empty');
    expect(store.objects.has('empty.instruction')).toBe(false);
    await client.send(complete(UploadId, [], 'empty'));
    expect(store.commands()).toEqual(['CreateMultipartUpload', 'UploadPart', 'PutObject empty.instruction', 'CompleteMultipartUpload']);
    expect(store.objects.get('empty')!.body.length).toBe(16);
    expect((await plaintextOf(store, 'empty')).length).toBe(0);
  });
});

describe('option checks', () => {
  it('s3ec.write and s3ecWrite take a boolean or { instructionFile }', () => {
    expect(resolveS3ecOptions({})!.write).toBeUndefined();
    expect(resolveS3ecOptions({ write: true })!.write).toEqual({ instructionFile: false });
    expect(resolveS3ecWrite({ instructionFile: true }, 'x')).toEqual({ instructionFile: true });
    expect(resolveS3ecWrite(false, 'x')).toBeUndefined();
    expect(() => resolveS3ecOptions({ write: 'yes' })).toThrow(TypeError);
    expect(() => resolveS3ecWrite({ instructionFiles: true }, 'x')).toThrow(TypeError);
    expect(() => withS3Crypt(new PutObjectCommand({ Bucket, Key: 'k' }), { s3ecWrite: { instructionFile: 1 } as never })).toThrow(TypeError);
  });
});
