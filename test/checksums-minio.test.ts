// Data-integrity options through EncryptingS3Client against a real MinIO: caller checksums are
// verified over the plaintext and a mismatch fails as S3 fails it with nothing stored; outputs never
// present a ciphertext checksum; lib-storage progress counts a held last part only once it is sent.
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Crc32c, Crc64Nvme } from '@aws-sdk/checksums/crc';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EncryptingS3Client } from '@s3crypt/client';
import { getBody, markedBytes, testClients } from './harness/clients.js';

const MiB = 1024 * 1024;
let plain: S3Client;
let encrypting: EncryptingS3Client;
let bucket: string;

beforeAll(async () => {
  ({ plain, encrypting, bucket } = await testClients());
});

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const hash = (algorithm: string, data: Uint8Array) => createHash(algorithm).update(data).digest('base64');
async function sdkDigest(digest: { update(d: Uint8Array): void; digest(): Promise<Uint8Array> }, data: Uint8Array) {
  digest.update(data);
  return b64(await digest.digest());
}

/** Every value field MinIO itself verifies, right for `data` (the plain client proves MinIO agrees). */
async function rightValues(data: Buffer): Promise<Record<string, string>> {
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data));
  return {
    ContentMD5: hash('md5', data),
    ChecksumCRC32: b64(crc),
    ChecksumCRC32C: await sdkDigest(new Crc32c(), data),
    ChecksumCRC64NVME: await sdkDigest(new Crc64Nvme(), data),
    ChecksumSHA1: hash('sha1', data),
    ChecksumSHA256: hash('sha256', data),
  };
}

function wrong(value: string): string {
  const bytes = Buffer.from(value, 'base64');
  bytes[0]! ^= 1;
  return b64(bytes);
}

const FIELDS = ['ContentMD5', 'ChecksumCRC32', 'ChecksumCRC32C', 'ChecksumCRC64NVME', 'ChecksumSHA1', 'ChecksumSHA256'] as const;
const CIPHERTEXT_FIELDS = /^Checksum/;
type BodyKind = 'bytes' | 'stream';
const bodyOf = (kind: BodyKind, data: Buffer) => (kind === 'bytes' ? data : Readable.from([data.subarray(0, 100), data.subarray(100)]));

async function stored(key: string): Promise<number> {
  return (await plain.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key }))).KeyCount ?? 0;
}

function errorShape(error: unknown) {
  const e = error as { name: string; $fault: string; $metadata: { httpStatusCode?: number } };
  return { name: e.name, $fault: e.$fault, httpStatusCode: e.$metadata.httpStatusCode };
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('PutObject: caller checksums are verified over the plaintext', () => {
  const data = markedBytes(70_000, 7);
  let right: Record<string, string>;
  beforeAll(async () => {
    right = await rightValues(data);
  });

  for (const kind of ['bytes', 'stream'] as const) {
    for (const field of FIELDS) {
      it(`${kind}: a right ${field} is accepted (by MinIO for the plain client too) and the output reports it`, async () => {
        const key = `put/right/${kind}/${field}`;
        await plain.send(new PutObjectCommand({ Bucket: bucket, Key: `${key}/plain`, Body: bodyOf(kind, data), ContentLength: data.length, [field]: right[field] }));
        const output = await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bodyOf(kind, data), ContentLength: data.length, [field]: right[field] }));
        const reported = Object.fromEntries(Object.entries(output).filter(([name]) => CIPHERTEXT_FIELDS.test(name)));
        expect(reported).toEqual(field === 'ContentMD5' ? {} : { [field]: right[field], ChecksumType: 'FULL_OBJECT' });
        expect((await getBody(encrypting, bucket, key)).equals(data)).toBe(true);
      });

      it(`${kind}: a wrong ${field} fails like the plain client's (BadDigest, client fault, 400) and nothing is stored`, async () => {
        const key = `put/wrong/${kind}/${field}`;
        const input = { Bucket: bucket, ContentLength: data.length, [field]: wrong(right[field]!) };
        const plainError = errorShape(await caught(plain.send(new PutObjectCommand({ ...input, Key: `${key}/plain`, Body: bodyOf(kind, data) }))));
        const error = await caught(encrypting.send(new PutObjectCommand({ ...input, Key: key, Body: bodyOf(kind, data) })));
        // S3 names both mismatches BadDigest; MinIO names a checksum mismatch XAmzContentChecksumMismatch.
        expect(errorShape(error)).toEqual({ ...plainError, name: 'BadDigest' });
        expect(plainError.name).toBe(field === 'ContentMD5' ? 'BadDigest' : 'XAmzContentChecksumMismatch');
        expect(await stored(key)).toBe(0);
      });
    }
  }

  it('a wrong checksum MinIO does not know (SHA512) still fails, as on S3; a right one is reported', async () => {
    const sha512 = hash('sha512', data);
    await expect(encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'put/sha512-wrong', Body: data, ChecksumSHA512: wrong(sha512) }))).rejects.toMatchObject({ name: 'BadDigest' });
    expect(await stored('put/sha512-wrong')).toBe(0);
    const output = await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'put/sha512', Body: data, ChecksumSHA512: sha512 }));
    expect(output.ChecksumSHA512).toBe(sha512);
  });

  it('a malformed ContentMD5 is InvalidDigest, as for the plain client', async () => {
    const plainError = errorShape(await caught(plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'put/md5-bad/plain', Body: data, ContentMD5: 'AAAA' }))));
    const error = errorShape(await caught(encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'put/md5-bad', Body: data, ContentMD5: 'AAAA' }))));
    expect(error).toEqual(plainError);
    expect(error.name).toBe('InvalidDigest');
  });

  it('a wrong checksum on a stream of several segments aborts the request: the object is not stored, an older version stays', async () => {
    const big = markedBytes(3 * MiB, 9);
    const key = 'put/stream-big';
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'older' }));
    const input = { Bucket: bucket, Key: key, ContentLength: big.length, ChecksumSHA256: wrong(hash('sha256', big)) };
    await expect(encrypting.send(new PutObjectCommand({ ...input, Body: Readable.from([big.subarray(0, MiB), big.subarray(MiB)]) }))).rejects.toMatchObject({ name: 'BadDigest' });
    expect((await getBody(encrypting, bucket, key)).toString()).toBe('older');
  });
});

describe('outputs never present a ciphertext checksum', () => {
  const data = Buffer.from('checksum outputs');

  it('ChecksumAlgorithm: the SDK checksums the ciphertext in transit (stored with the object); the output reports the plaintext checksum', async () => {
    const key = 'out/sha256';
    const output = await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data, ChecksumAlgorithm: 'SHA256' }));
    expect(output.ChecksumSHA256).toBe(hash('sha256', data));
    const storedHead = await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
    expect(storedHead.ChecksumSHA256).toBeDefined();
    expect(storedHead.ChecksumSHA256).not.toBe(output.ChecksumSHA256);
  });

  it('no checksum asked: the SDK default CRC32 protects the ciphertext, and the output carries no checksum', async () => {
    const key = 'out/default';
    const output = await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
    expect(Object.keys(output).filter((name) => CIPHERTEXT_FIELDS.test(name))).toEqual([]);
    expect((await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }))).ChecksumCRC32).toBeDefined();
  });

  it('HeadObject and GetObject with ChecksumMode ENABLED: no checksum fields, the plaintext intact (single PUT and multipart)', async () => {
    const big = markedBytes(6 * MiB, 3);
    await new Upload({ client: encrypting, params: { Bucket: bucket, Key: 'out/mpu', Body: big, ChecksumAlgorithm: 'SHA256' }, partSize: 5 * MiB }).done();
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'out/single', Body: data, ChecksumAlgorithm: 'CRC32C' }));
    for (const [key, body] of [['out/single', data], ['out/mpu', big]] as const) {
      const head = await encrypting.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
      expect(Object.keys(head).filter((name) => CIPHERTEXT_FIELDS.test(name))).toEqual([]);
      expect(head.ContentLength).toBe(body.length);
      const get = await encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
      expect(Object.keys(get).filter((name) => CIPHERTEXT_FIELDS.test(name))).toEqual([]);
      expect(Buffer.from(await get.Body!.transformToByteArray()).equals(body)).toBe(true);
      const ranged = await encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED', Range: 'bytes=1-4' }));
      expect(Buffer.from(await ranged.Body!.transformToByteArray()).equals(body.subarray(1, 5))).toBe(true);
    }
  });
});

describe('UploadPart: caller checksums are verified over the plaintext', () => {
  const big = markedBytes(5 * MiB, 21);
  const small = markedBytes(3000, 22);

  async function partNumbers(key: string, UploadId: string | undefined): Promise<number[]> {
    return ((await plain.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId }))).Parts ?? []).map((part) => part.PartNumber ?? 0);
  }

  for (const kind of ['bytes', 'stream'] as const) {
    it(`${kind}: wrong checksums fail with BadDigest and are never recorded; right ones are reported and complete the upload`, async () => {
      const key = `mpu/${kind}`;
      const [rightBig, rightSmall] = [await rightValues(big), await rightValues(small)];
      const { UploadId } = await encrypting.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: 'SHA256' }));
      const part = (PartNumber: number, data: Buffer, extra: Record<string, string>) =>
        encrypting.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber, Body: bodyOf(kind, data), ContentLength: data.length, ...extra }));
      for (const field of FIELDS) {
        await expect(part(1, big, { [field]: wrong(rightBig[field]!) })).rejects.toMatchObject({ name: 'BadDigest', $fault: 'client', $metadata: { httpStatusCode: 400 } });
        await expect(part(2, small, { [field]: wrong(rightSmall[field]!) })).rejects.toMatchObject({ name: 'BadDigest' });
      }
      expect(await partNumbers(key, UploadId)).toEqual([]);
      const one = await part(1, big, { ChecksumSHA256: rightBig.ChecksumSHA256!, ContentMD5: rightBig.ContentMD5! });
      const two = await part(2, small, { ChecksumSHA256: rightSmall.ChecksumSHA256!, ChecksumCRC32C: rightSmall.ChecksumCRC32C! });
      expect(one.ChecksumSHA256).toBe(rightBig.ChecksumSHA256);
      expect(two).toMatchObject({ ChecksumSHA256: rightSmall.ChecksumSHA256, ChecksumCRC32C: rightSmall.ChecksumCRC32C });
      const parts = [
        { PartNumber: 1, ETag: one.ETag, ChecksumSHA256: one.ChecksumSHA256 },
        { PartNumber: 2, ETag: two.ETag, ChecksumSHA256: two.ChecksumSHA256 },
      ];
      const completed = await encrypting.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
      expect(Object.keys(completed).filter((name) => CIPHERTEXT_FIELDS.test(name))).toEqual([]);
      expect((await getBody(encrypting, bucket, key)).equals(Buffer.concat([big, small]))).toBe(true);
    });
  }

  it('Complete: a part listed with a checksum other than its UploadPart reported is InvalidPart; a whole-object checksum is refused, the upload left open', async () => {
    const key = 'mpu/complete-checks';
    const { UploadId } = await encrypting.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const one = await encrypting.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: small, ChecksumAlgorithm: 'SHA256' }));
    const complete = (extra: object, checksum = one.ChecksumSHA256) =>
      encrypting.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: one.ETag, ChecksumSHA256: checksum }] }, ...extra }));
    await expect(complete({ ChecksumSHA256: hash('sha256', small), ChecksumType: 'FULL_OBJECT' })).rejects.toThrow(TypeError);
    expect(await partNumbers(key, UploadId)).toEqual([1]);
    await expect(complete({}, wrong(one.ChecksumSHA256!))).rejects.toMatchObject({ name: 'InvalidPart', $metadata: { httpStatusCode: 400 } });
    expect(await stored(key)).toBe(0);
  });

  it('a held last part uploaded before the parts it follows: Complete sends the final part again, the object reads back', async () => {
    const key = 'mpu/held-first';
    const { UploadId } = await encrypting.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const two = await encrypting.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 2, Body: small }));
    const one = await encrypting.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: big }));
    await encrypting.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: one.ETag }, { PartNumber: 2, ETag: two.ETag }] } }),
    );
    expect((await getBody(encrypting, bucket, key)).equals(Buffer.concat([big, small]))).toBe(true);
  });
});

describe('lib-storage progress', () => {
  it('each part, the held small last one included, is reported only after its bytes reached the store', async () => {
    const clients = await testClients();
    const sentParts = new Set<number>();
    clients.plain.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'UploadPartCommand') sentParts.add((args.input as { PartNumber: number }).PartNumber);
        return result;
      },
      { step: 'initialize', name: 'recordSentParts' },
    );
    const data = markedBytes(10 * MiB + 1234, 5);
    const upload = new Upload({ client: clients.encrypting, params: { Bucket: clients.bucket, Key: 'progress', Body: Readable.from([data]) }, partSize: 5 * MiB });
    const reports: { part: number; sentYet: boolean; loaded: number }[] = [];
    upload.on('httpUploadProgress', (progress) => {
      reports.push({ part: progress.part ?? 0, sentYet: sentParts.has(progress.part ?? 0), loaded: progress.loaded ?? 0 });
    });
    await upload.done();
    expect(reports.map((report) => report.part).sort()).toEqual([1, 2, 3]);
    expect(reports.filter((report) => !report.sentYet)).toEqual([]);
    expect(Math.max(...reports.map((report) => report.loaded))).toBe(data.length);
    expect((await getBody(clients.encrypting, clients.bucket, 'progress')).equals(data)).toBe(true);
  });
});
