// Multipart behaviour of EncryptingS3Client against a real MinIO: retried parts, fail-closed
// completion, and commands the format cannot support.
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
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

async function openUploads(): Promise<number> {
  return ((await plain.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).length;
}

describe('multipart through the raw commands', () => {
  it('a part uploaded twice with different content: the completed attempt is the one read back', async () => {
    const key = 'mpu/retry';
    const { UploadId } = await encrypting.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const first = markedBytes(5 * MiB, 1);
    const second = markedBytes(5 * MiB, 2);
    const tail = markedBytes(1000, 3);
    await encrypting.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: first }));
    const retried = await encrypting.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: second }));
    const last = await encrypting.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 2, Body: tail }));
    await encrypting.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: retried.ETag }, { PartNumber: 2, ETag: last.ETag }] },
      }),
    );
    expect((await getBody(encrypting, bucket, key)).equals(Buffer.concat([second, tail]))).toBe(true);
    const head = await encrypting.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentLength).toBe(second.length + tail.length);
  });

  it('a small last part retried: only its latest attempt is kept (as S3 keeps only the latest upload)', async () => {
    const key = 'mpu/held-retry';
    const first = markedBytes(5 * MiB, 11);
    const { UploadId } = await encrypting.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const one = await encrypting.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: first }));
    const stale = await encrypting.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 2, Body: 'first attempt' }));
    const latest = await encrypting.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 2, Body: 'second attempt' }));
    const complete = (eTag: string | undefined) =>
      encrypting.send(
        new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: one.ETag }, { PartNumber: 2, ETag: eTag }] } }),
      );
    await expect(complete(stale.ETag)).rejects.toMatchObject({ code: 'ERR_UNKNOWN_PART' });
    expect(await openUploads()).toBe(0);

    const again = await encrypting.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const partOne = await encrypting.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: again.UploadId, PartNumber: 1, Body: first }));
    await encrypting.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: again.UploadId, PartNumber: 2, Body: 'first attempt' }));
    const last = await encrypting.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: again.UploadId, PartNumber: 2, Body: 'second attempt' }));
    await encrypting.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: again.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: partOne.ETag }, { PartNumber: 2, ETag: last.ETag }] },
      }),
    );
    expect((await getBody(encrypting, bucket, key)).equals(Buffer.concat([first, Buffer.from('second attempt')]))).toBe(true);
    expect(latest.ETag).not.toBe(stale.ETag);
  });

  it('a part streamed from a Node Readable with ContentLength', async () => {
    const key = 'mpu/stream-part';
    const data = markedBytes(5 * MiB + 10, 4);
    const { UploadId } = await encrypting.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const part = await encrypting.send(
      new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: Readable.from([data.subarray(0, MiB), data.subarray(MiB)]), ContentLength: data.length }),
    );
    await encrypting.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    expect((await getBody(encrypting, bucket, key)).equals(data)).toBe(true);
  });

  it('completing with a part the client did not encrypt fails closed: typed error, upload aborted, no object', async () => {
    const key = 'mpu/foreign-part';
    const { UploadId } = await encrypting.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const foreign = await plain.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: markedBytes(5 * MiB) }));
    await expect(
      encrypting.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: foreign.ETag }] } })),
    ).rejects.toMatchObject({ code: 'ERR_UNKNOWN_PART' });
    expect(await openUploads()).toBe(0);
    expect((await plain.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key }))).KeyCount ?? 0).toBe(0);
  });

  it('UploadPart for an upload this client did not create is refused before anything is sent', async () => {
    const key = 'mpu/foreign-upload';
    const { UploadId } = await plain.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    await expect(encrypting.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: 'secret' }))).rejects.toMatchObject({
      code: 'ERR_UNKNOWN_UPLOAD',
    });
    const { AbortMultipartUploadCommand } = await import('@aws-sdk/client-s3');
    await plain.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }));
  });

  it('UploadPartCopy is refused (it would splice foreign ciphertext in)', async () => {
    await expect(
      encrypting.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'x', UploadId: 'u', PartNumber: 1, CopySource: `${bucket}/y` })),
    ).rejects.toBeInstanceOf(TypeError);
  });
});

describe('lib-storage Upload', () => {
  it('a body that fails mid-way aborts the upload and leaves nothing behind', async () => {
    const key = 'mpu/failing-body';
    async function* failing() {
      yield markedBytes(6 * MiB, 5);
      yield markedBytes(6 * MiB, 6);
      throw new Error('source went away');
    }
    const upload = new Upload({ client: encrypting, params: { Bucket: bucket, Key: key, Body: Readable.from(failing()) }, partSize: 5 * MiB, queueSize: 2 });
    await expect(upload.done()).rejects.toThrow(/source went away/);
    expect(await openUploads()).toBe(0);
    expect((await plain.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key }))).KeyCount ?? 0).toBe(0);
  });

  it('exact multiples of the part size (trailer in a part of its own) and HeadObject', async () => {
    const key = 'mpu/exact';
    const data = markedBytes(10 * MiB, 7);
    await new Upload({ client: encrypting, params: { Bucket: bucket, Key: key, Body: data }, partSize: 5 * MiB, queueSize: 2 }).done();
    expect((await getBody(encrypting, bucket, key)).equals(data)).toBe(true);
    expect((await encrypting.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentLength).toBe(data.length);
  });

  it('many parts of one size: ciphertext buffers reused after each acknowledged part never mix parts', async () => {
    const key = 'mpu/reused';
    // Nine distinct 5 MiB parts, two in flight: parts 3–9 are sealed into buffers of earlier parts.
    const data = markedBytes(45 * MiB, 12);
    await new Upload({ client: encrypting, params: { Bucket: bucket, Key: key, Body: data }, partSize: 5 * MiB, queueSize: 2 }).done();
    expect((await getBody(encrypting, bucket, key)).equals(data)).toBe(true);
  });

  it('a larger part size (8 MiB) with 3 parts in flight', async () => {
    const key = 'mpu/8mib';
    const data = markedBytes(21 * MiB + 3, 8);
    await new Upload({ client: encrypting, params: { Bucket: bucket, Key: key, Body: Readable.from([data]) }, partSize: 8 * MiB, queueSize: 3 }).done();
    expect((await getBody(encrypting, bucket, key)).equals(data)).toBe(true);
  });
});
