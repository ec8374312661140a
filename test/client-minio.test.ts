// EncryptingS3Client against a real MinIO (started by test/harness/global-setup.ts).
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, CopyObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { describe, expect, it, beforeAll } from 'vitest';
import { S3CryptError, s3cryptInfo, type EncryptingS3Client } from '@s3crypt/client';
import { getBody, MARKER, markedBytes, testClients } from './harness/clients.js';
import type { S3Client } from '@aws-sdk/client-s3';

const SEGMENT = 64 * 1024;
const MiB = 1024 * 1024;
const SIZES = [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 5 * MiB - 1, 5 * MiB, 5 * MiB + 1, 50 * MiB];

let plain: S3Client;
let encrypting: EncryptingS3Client;
let bucket: string;

beforeAll(async () => {
  ({ plain, encrypting, bucket } = await testClients());
});

const storedBody = (key: string) => getBody(plain, bucket, key);
const decryptedBody = (key: string, extra: { Range?: string; PartNumber?: number } = {}) => getBody(encrypting, bucket, key, extra);

describe('PutObject / GetObject round trip', () => {
  for (const size of SIZES) {
    it(`${size} bytes`, async () => {
      const data = markedBytes(size, size + 7);
      const key = `put/${size}`;
      await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data, ContentType: 'application/x-test' }));
      const stored = await storedBody(key);
      expect(stored.length).toBeGreaterThan(size);
      if (size >= MARKER.length) expect(stored.includes(MARKER)).toBe(false);
      const response = await encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(response.ContentLength).toBe(size);
      expect(response.ContentType).toBe('application/x-test');
      expect(response.Metadata).toEqual({});
      const body = Buffer.from(await response.Body!.transformToByteArray());
      expect(body.equals(data)).toBe(true);
      const head = await encrypting.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(head.ContentLength).toBe(size);
    });
  }

  it('HeadObject fails like the plain client for a missing key (NotFound) and a failed condition (412)', async () => {
    const missing = new HeadObjectCommand({ Bucket: bucket, Key: 'put/does-not-exist' });
    const plainError = await plain.send(missing).catch((e: Error) => e);
    const ourError = await encrypting.send(new HeadObjectCommand({ Bucket: bucket, Key: 'put/does-not-exist' })).catch((e: Error) => e);
    expect((ourError as Error).name).toBe('NotFound');
    expect((ourError as Error).name).toBe((plainError as Error).name);
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'put/head-cond', Body: 'x' }));
    await expect(encrypting.send(new HeadObjectCommand({ Bucket: bucket, Key: 'put/head-cond', IfMatch: '"nope"' }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 412 },
    });
  });

  it('honours response-header overrides and conditions', async () => {
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'put/override', Body: 'x' }));
    const response = await encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'put/override', ResponseContentType: 'text/x-override' }));
    expect(response.ContentType).toBe('text/x-override');
    await expect(encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'put/override', IfMatch: '"not-the-etag"' }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 412 },
    });
  });
});

describe('lib-storage Upload round trip', () => {
  for (const size of SIZES) {
    it(`${size} bytes, 5 MiB parts, 4 in flight`, async () => {
      const data = markedBytes(size, size + 11);
      const key = `upload/${size}`;
      const upload = new Upload({ client: encrypting, params: { Bucket: bucket, Key: key, Body: Readable.from(chunks(data)) }, partSize: 5 * MiB, queueSize: 4 });
      await upload.done();
      const stored = await storedBody(key);
      if (size >= MARKER.length) expect(stored.includes(MARKER)).toBe(false);
      expect((await decryptedBody(key)).equals(data)).toBe(true);
    });
  }
});

function* chunks(data: Buffer, size = 1000 * 1000): Generator<Buffer> {
  for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size);
}

describe('ranged GETs', () => {
  it('100 random ranges of a multipart object match the plaintext, in all three Range forms', async () => {
    const data = markedBytes(12 * MiB + 12345, 99);
    const key = 'ranges/multipart';
    await new Upload({ client: encrypting, params: { Bucket: bucket, Key: key, Body: data }, partSize: 5 * MiB, queueSize: 2 }).done();
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 100; i++) {
      const form = i % 3;
      let range: string;
      let expected: Buffer;
      if (form === 0) {
        const a = random(data.length);
        const b = a + random(Math.min(300_000, data.length - a));
        range = `bytes=${a}-${b}`;
        expected = data.subarray(a, b + 1);
      } else if (form === 1) {
        const a = data.length - 1 - random(200_000);
        range = `bytes=${a}-`;
        expected = data.subarray(a);
      } else {
        const n = 1 + random(200_000);
        range = `bytes=-${n}`;
        expected = data.subarray(data.length - n);
      }
      const response = await encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
      const body = Buffer.from(await response.Body!.transformToByteArray());
      expect(body.equals(expected), range).toBe(true);
      expect(response.ContentLength).toBe(expected.length);
      expect(response.ContentRange).toMatch(new RegExp(`/${data.length}$`));
    }
  });

  it('an unsatisfiable range fails like the plain client (InvalidRange)', async () => {
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'ranges/small', Body: 'tiny' }));
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'ranges/small-plain', Body: 'tiny' }));
    const ours = await encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'ranges/small', Range: 'bytes=10-20' })).catch((e: Error) => e);
    const theirs = await plain.send(new GetObjectCommand({ Bucket: bucket, Key: 'ranges/small-plain', Range: 'bytes=10-20' })).catch((e: Error) => e);
    expect((ours as Error).name).toBe('InvalidRange');
    expect((ours as Error).name).toBe((theirs as Error).name);
  });

  it('PartNumber returns that part', async () => {
    const data = markedBytes(11 * MiB, 5);
    const key = 'ranges/parts';
    await new Upload({ client: encrypting, params: { Bucket: bucket, Key: key, Body: data }, partSize: 5 * MiB, queueSize: 2 }).done();
    expect((await decryptedBody(key, { PartNumber: 2 })).equals(data.subarray(5 * MiB, 10 * MiB))).toBe(true);
    expect((await decryptedBody(key, { PartNumber: 3 })).equals(data.subarray(10 * MiB))).toBe(true);
  });
});

describe('bodies', () => {
  const data = markedBytes(200_000, 3);
  const bodies: Record<string, () => unknown> = {
    string: () => 'héllo wörld',
    Uint8Array: () => new Uint8Array(data),
    Buffer: () => data,
    'Node Readable': () => Readable.from(chunks(data, 7000)),
    'Web ReadableStream': () => Readable.toWeb(Readable.from(chunks(data, 7000))),
    Blob: () => new Blob([new Uint8Array(data)]),
  };
  for (const [name, make] of Object.entries(bodies)) {
    it(name, async () => {
      const expected = name === 'string' ? Buffer.from('héllo wörld') : data;
      const key = `bodies/${name}`;
      await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: make() as never, ContentLength: expected.length }));
      const response = await encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (name === 'string') expect(await response.Body!.transformToString()).toBe('héllo wörld');
      else expect(Buffer.from(await response.Body!.transformToByteArray()).equals(expected)).toBe(true);
    });
  }

  for (const [name, declared] of [['shorter', data.length + 10], ['longer', data.length - 10]] as const) {
    it(`a stream ${name} than ContentLength fails with a typed error and stores nothing`, async () => {
      const key = `bodies/${name}`;
      await expect(
        encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Readable.from(chunks(data, 7000)), ContentLength: declared })),
      ).rejects.toMatchObject({ code: 'ERR_BODY_LENGTH_MISMATCH' });
      const listed = await plain.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key }));
      expect(listed.KeyCount ?? 0).toBe(0);
    });
  }

  it('transformToWebStream streams the plaintext', async () => {
    const key = 'bodies/web-out';
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
    const response = await encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const received: Buffer[] = [];
    for await (const chunk of response.Body!.transformToWebStream() as unknown as AsyncIterable<Uint8Array>) received.push(Buffer.from(chunk));
    expect(Buffer.concat(received).equals(data)).toBe(true);
  });
});

describe('fail closed', () => {
  it('a command class renamed by a minifier is still encrypted', async () => {
    const e = class extends PutObjectCommand {};
    await encrypting.send(new e({ Bucket: bucket, Key: 'minified', Body: 'secret' }));
    const head = await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: 'minified' }));
    expect(head.Metadata?.['s3crypt-envelope']).toBeDefined();
    expect((await storedBody('minified')).includes(Buffer.from('secret'))).toBe(false);
  });

  it('an object without an envelope is refused, unless the plaintext selection includes it', async () => {
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain/one', Body: 'not encrypted' }));
    await expect(encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'plain/one' }))).rejects.toMatchObject({ code: 'ERR_NOT_ENCRYPTED' });
    const { encrypting: lenient } = await testClients({ allowPlaintextReads: [{ bucket, prefix: 'plain/' }] });
    const response = await lenient.send(new GetObjectCommand({ Bucket: bucket, Key: 'plain/one' }));
    expect(await response.Body!.transformToString()).toBe('not encrypted');
    expect(s3cryptInfo(response)).toEqual({ encrypted: false });
  });

  it('a keyring that fails to wrap uploads nothing', async () => {
    const failing = { onEncrypt: async () => Promise.reject(new Error('kms down')), onDecrypt: async () => undefined, kekMatchers: () => [] };
    const { encrypting: broken, bucket: empty, plain: raw } = await testClients({ keyring: failing });
    await expect(broken.send(new PutObjectCommand({ Bucket: empty, Key: 'x', Body: 'secret' }))).rejects.toMatchObject({ code: 'ERR_KEY_WRAP_FAILED' });
    await expect(new Upload({ client: broken, params: { Bucket: empty, Key: 'y', Body: markedBytes(11 * MiB) }, partSize: 5 * MiB }).done()).rejects.toBeInstanceOf(S3CryptError);
    expect((await raw.send(new ListObjectsV2Command({ Bucket: empty }))).KeyCount ?? 0).toBe(0);
    expect((await raw.send(new ListMultipartUploadsCommand({ Bucket: empty }))).Uploads ?? []).toHaveLength(0);
  });

  it('another key cannot decrypt (typed error, no plaintext)', async () => {
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'wrong-key', Body: 'secret' }));
    const { encrypting: other } = await testClients();
    await expect(other.send(new GetObjectCommand({ Bucket: bucket, Key: 'wrong-key' }))).rejects.toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
  });

  it('an object copied behind the client\'s back to another key does not decrypt; a copy through the client does', async () => {
    const data = markedBytes(100_000, 8);
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'copy/source', Body: data, Metadata: { owner: 'team-a' }, ContentType: 'text/x-a' }));
    await plain.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy/sneaky', CopySource: `${bucket}/copy/source` }));
    await expect(encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'copy/sneaky' }))).rejects.toBeInstanceOf(S3CryptError);
    await encrypting.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy/proper', CopySource: `${bucket}/copy/source` }));
    const response = await encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'copy/proper' }));
    expect(response.Metadata).toEqual({ owner: 'team-a' });
    expect(response.ContentType).toBe('text/x-a');
    expect(Buffer.from(await response.Body!.transformToByteArray()).equals(data)).toBe(true);
  });

  it('a tampered stored byte fails the GET with a typed error', async () => {
    const data = markedBytes(300_000, 9);
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'tamper/src', Body: data }));
    const stored = await storedBody('tamper/src');
    const head = await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: 'tamper/src' }));
    stored[150_000] = (stored[150_000] as number) ^ 1;
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'tamper/src', Body: stored, Metadata: head.Metadata }));
    const response = await encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'tamper/src' }));
    await expect(response.Body!.transformToByteArray()).rejects.toMatchObject({ code: 'ERR_DECRYPTION_FAILED' });
  });

  it('bad input read back through S3 gets typed errors: truncated object, unknown version, malformed envelope', async () => {
    const data = markedBytes(200_000, 10);
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad/src', Body: data }));
    const stored = await storedBody('bad/src');
    const { Metadata } = await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bad/src' }));
    const envelope = Buffer.from(Metadata!['s3crypt-envelope']!, 'base64');
    const rewrite = async (key: string, body: Buffer, metadata: Record<string, string>) => {
      await plain.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: metadata }));
      return encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: key })).then((r) => r.Body!.transformToByteArray());
    };
    // Copies are re-wrapped under their own key so that only the damage under test remains.
    const rewrapped = async (key: string) => {
      await encrypting.send(new CopyObjectCommand({ Bucket: bucket, Key: key, CopySource: `${bucket}/bad/src` }));
      return (await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).Metadata!;
    };
    await expect(rewrite('bad/truncated', stored.subarray(0, stored.length - 100), await rewrapped('bad/truncated'))).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_(OBJECT_TRUNCATED|OBJECT_MALFORMED|DECRYPTION_FAILED)$/),
    });
    const future = Buffer.from(envelope);
    future[0] = 3;
    await expect(rewrite('bad/version', stored, { 's3crypt-envelope': future.toString('base64') })).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED_FORMAT_VERSION' });
    await expect(rewrite('bad/malformed', stored, { 's3crypt-envelope': envelope.subarray(0, 40).toString('base64') })).rejects.toMatchObject({
      code: 'ERR_ENVELOPE_MALFORMED',
    });
  });

  it('a tampered small object (read whole in the first response) fails send() itself', async () => {
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'tamper/small', Body: 'small secret' }));
    const stored = await storedBody('tamper/small');
    const head = await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: 'tamper/small' }));
    stored[3] = (stored[3] as number) ^ 0x80;
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'tamper/small', Body: stored, Metadata: head.Metadata }));
    await expect(encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'tamper/small' }))).rejects.toMatchObject({ code: 'ERR_DECRYPTION_FAILED' });
  });
});
