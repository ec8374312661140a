// Writing AWS S3 Encryption Client V3 objects through EncryptingS3Client (`s3ec.write`, `s3ecWrite`)
// on MinIO, read back by the official Python client 4.0.0 (test/harness/s3ec-peer.ts) with its KMS
// keyring on moto, and by our own reader: PutObject at every size, lib-storage's Upload (a short last
// part carrying the tag, and exact multiples of the part size with the tag in a part of its own), the
// caller's encryption context, instruction files, the raw S3EC keyrings (no Python writer or reader
// for those: our reader only), refusals that store nothing, and an aborted Upload.
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { KMSClient } from '@aws-sdk/client-kms';
import { Upload } from '@aws-sdk/lib-storage';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  EncryptingS3Client,
  MultiKeyring,
  RawAesKeyring,
  S3CryptError,
  S3ecAesKeyring,
  S3ecRsaKeyring,
  rotateKeys,
  s3cryptInfo,
  withS3Crypt,
  type Keyring,
  type S3ecOptions,
} from '@s3crypt/client';
import { AwsKmsKeyring } from '@s3crypt/kms-aws';
import { markedBytes } from './harness/clients.js';
import { s3Client } from './harness/minio.js';
import { peerGet, peerRejection, startPeerFixture, type PeerFixture, type PeerServers } from './harness/s3ec-peer.js';

const MiB = 1024 * 1024;
const PART = 5 * MiB;

let fixture: PeerFixture;
let kms: KMSClient;
let plain: S3Client;
let servers: PeerServers;
let bucket: string;
let keyArn: string;

function kmsKeyring(): AwsKmsKeyring {
  return new AwsKmsKeyring({ keyId: keyArn, client: kms });
}

function client(keyring: Keyring = kmsKeyring(), s3ec: S3ecOptions = { write: true }): EncryptingS3Client {
  return new EncryptingS3Client({ client: plain, keyring, s3ec });
}

async function read(reader: EncryptingS3Client, key: string, encryptionContext?: Record<string, string>): Promise<Buffer> {
  const command = new GetObjectCommand({ Bucket: bucket, Key: key });
  const out = await reader.send(encryptionContext ? withS3Crypt(command, { encryptionContext }) : command);
  return Buffer.from(await out.Body!.transformToByteArray());
}

async function storedMetadata(key: string): Promise<Record<string, string>> {
  return (await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).Metadata ?? {};
}

async function rawText(key: string): Promise<string> {
  return (await plain.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
}

async function exists(key: string): Promise<boolean> {
  return plain.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
    () => true,
    (error: { name?: string }) => {
      if (error.name === 'NotFound') return false;
      throw error;
    },
  );
}

async function openUploads(prefix: string): Promise<number> {
  return ((await plain.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }))).Uploads ?? []).length;
}

async function keysUnder(prefix: string): Promise<string[]> {
  return ((await plain.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!);
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(S3CryptError);
    return (error as S3CryptError).code;
  }
  throw new Error('expected a typed failure');
}

beforeAll(async () => {
  fixture = await startPeerFixture(inject('s3'), 's3ec-write', 's3crypt S3EC writer test');
  ({ kms, plain, servers, bucket, keyArn } = fixture);
}, 120_000);

afterAll(() => fixture?.stop());

describe('objects s3crypt writes in S3EC V3 are read by the official Python client', () => {
  it('PutObject, 0 B to 1 MiB, with and without a caller context: the peer and our reader read them; the metadata is the official layout', async () => {
    const writer = client();
    const context = { tenant: 'acme', purpose: 's3crypt-write-test' };
    for (const size of [0, 1, 16, 17, MiB]) {
      for (const encryptionContext of [undefined, context]) {
        const key = `put/${size}${encryptionContext ? '-context' : ''}`;
        const plaintext = markedBytes(size, size + 11);
        const command = new PutObjectCommand({ Bucket: bucket, Key: key, Body: plaintext });
        const out = await writer.send(encryptionContext ? withS3Crypt(command, { encryptionContext }) : command);
        expect((out as { S3Crypt?: unknown }).S3Crypt).toEqual({ encrypted: true, format: 's3ec', formatVersion: 3 });
        const head = await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        expect(head.ContentLength).toBe(size + 16);
        expect(Object.keys(head.Metadata!).sort()).toEqual(['x-amz-3', 'x-amz-c', 'x-amz-d', 'x-amz-i', 'x-amz-t', 'x-amz-w']);
        expect(head.Metadata!['x-amz-w']).toBe('12');
        expect(JSON.parse(head.Metadata!['x-amz-t']!)).toEqual({ ...encryptionContext, 'aws:x-amz-cek-alg': '115' });
        // The body is ciphertext: the plaintext marker appears nowhere in it.
        const stored = Buffer.from(await (await plain.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
        expect(stored.includes(Buffer.from('S3CRYPT-PLAINTEXT-MARKER'))).toBe(false);
        const byPeer = await peerGet(servers, { bucket, key, kmsKeyId: keyArn, ...(encryptionContext ? { encryptionContext } : {}) });
        expect(byPeer.equals(plaintext), key).toBe(true);
        expect((await read(writer, key, encryptionContext)).equals(plaintext), key).toBe(true);
      }
    }
  }, 120_000);

  it('the context is bound: the peer refuses a read without it or with another one', async () => {
    const key = 'put/1-context';
    const missing = await peerRejection(peerGet(servers, { bucket, key, kmsKeyId: keyArn }));
    expect(missing.pythonError).toBe('S3EncryptionClientError');
    const other = await peerRejection(peerGet(servers, { bucket, key, kmsKeyId: keyArn, encryptionContext: { tenant: 'other', purpose: 's3crypt-write-test' } }));
    expect(other.pythonError).toBe('S3EncryptionClientError');
  });

  const uploads: [string, number, 'buffer' | 'stream'][] = [
    ['20 MiB, an exact multiple of the 5 MiB parts (the tag in a 16-byte part of its own)', 20 * MiB, 'buffer'],
    ['20 MiB + 3 B (the tag appended to the short last part), from a stream', 20 * MiB + 3, 'stream'],
    ['10 MiB from a stream (exact multiple)', 10 * MiB, 'stream'],
  ];
  for (const [label, size, kind] of uploads) {
    it(`lib-storage Upload, ${label}: read by the peer and by our reader`, async () => {
      const key = `upload/${size}-${kind}`;
      const plaintext = markedBytes(size, size);
      const Body = kind === 'buffer' ? plaintext : Readable.from((function* () {
        for (let offset = 0; offset < size; offset += 256 * 1024) yield plaintext.subarray(offset, offset + 256 * 1024);
      })());
      const out = await new Upload({ client: client(), params: { Bucket: bucket, Key: key, Body }, partSize: PART }).done();
      expect((out as { S3Crypt?: unknown }).S3Crypt).toEqual({ encrypted: true, format: 's3ec', formatVersion: 3 });
      const head = await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(head.ContentLength).toBe(size + 16);
      const parts = Math.ceil(size / PART) + (size % PART === 0 ? 1 : 0);
      expect(head.ETag).toMatch(new RegExp(`-${parts}"$`));
      expect((await peerGet(servers, { bucket, key, kmsKeyId: keyArn })).equals(plaintext)).toBe(true);
      expect((await read(client(), key)).equals(plaintext)).toBe(true);
      const ours = await client().send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(ours.ContentLength).toBe(size);
    }, 180_000);
  }

  it('a multipart upload with a caller context (raw commands, withS3Crypt on Create): the peer reads it with that context', async () => {
    const key = 'mpu/context';
    const encryptionContext = { department: 'finance' };
    const writer = client();
    const plaintext = markedBytes(PART + 1000, 5);
    const { UploadId } = await writer.send(withS3Crypt(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }), { encryptionContext }));
    const one = await writer.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: plaintext.subarray(0, PART) }));
    const two = await writer.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 2, Body: plaintext.subarray(PART) }));
    await writer.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: one.ETag }, { PartNumber: 2, ETag: two.ETag }] } }));
    expect((await peerGet(servers, { bucket, key, kmsKeyId: keyArn, encryptionContext })).equals(plaintext)).toBe(true);
    expect((await read(writer, key, encryptionContext)).equals(plaintext)).toBe(true);
  });
});

describe('instruction files', () => {
  it('PutObject and Upload with { instructionFile: true }: the peer reads them; the object keeps c/d/i only', async () => {
    const writer = client(kmsKeyring(), { write: { instructionFile: true } });
    const small = markedBytes(17, 3);
    await writer.send(withS3Crypt(new PutObjectCommand({ Bucket: bucket, Key: 'instruction/put', Body: small }), { encryptionContext: { tenant: 'acme' } }));
    const large = markedBytes(12 * MiB, 4);
    await new Upload({ client: writer, params: { Bucket: bucket, Key: 'instruction/upload', Body: large }, partSize: PART }).done();
    for (const [key, plaintext, encryptionContext] of [['instruction/put', small, { tenant: 'acme' }], ['instruction/upload', large, undefined]] as const) {
      expect(Object.keys(await storedMetadata(key)).sort()).toEqual(['x-amz-c', 'x-amz-d', 'x-amz-i']);
      expect(await storedMetadata(`${key}.instruction`)).toEqual({ 'x-amz-crypto-instr-file': '' });
      expect((await peerGet(servers, { bucket, key, kmsKeyId: keyArn, ...(encryptionContext ? { encryptionContext } : {}) })).equals(plaintext), key).toBe(true);
      expect((await read(writer, key, encryptionContext)).equals(plaintext), key).toBe(true);
    }
  }, 120_000);
});

describe('the S3EC raw keyrings (no Python writer or reader for them: read back by our reader)', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const wrappingKey = randomBytes(32);
  const cases: [string, () => Keyring, () => Keyring, string][] = [
    ['S3ecAesKeyring (02)', () => new S3ecAesKeyring({ wrappingKey, materialDescription: { app: 'x' } }), () => new S3ecAesKeyring({ wrappingKey, materialDescription: { app: 'x' } }), '02'],
    ['S3ecRsaKeyring (22), written with the public key only', () => new S3ecRsaKeyring({ publicKey }), () => new S3ecRsaKeyring({ privateKey }), '22'],
  ];
  for (const [label, writing, reading, wrap] of cases) {
    it(`${label}: PutObject and Upload, metadata and instruction file`, async () => {
      for (const instructionFile of [false, true]) {
        const writer = client(writing(), { write: { instructionFile } });
        // S3EC objects are never signed: RSA-wrapped ones are read only when the key policy accepts that.
        const reader = new EncryptingS3Client({ client: plain, keyring: reading(), s3ec: {}, keyPolicy: { acceptUnsignedPublicKeyWrapping: wrap === '22' } });
        const prefix = `raw/${wrap}/${instructionFile ? 'file' : 'meta'}`;
        const small = markedBytes(1000, 7);
        await writer.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/put`, Body: small }));
        const large = markedBytes(11 * MiB, 8);
        await new Upload({ client: writer, params: { Bucket: bucket, Key: `${prefix}/upload`, Body: large }, partSize: PART }).done();
        const where = instructionFile ? (JSON.parse(await rawText(`${prefix}/put.instruction`)) as Record<string, string>) : await storedMetadata(`${prefix}/put`);
        expect(where['x-amz-w']).toBe(wrap);
        expect((await read(reader, `${prefix}/put`)).equals(small)).toBe(true);
        expect((await read(reader, `${prefix}/upload`)).equals(large)).toBe(true);
        if (wrap === '22') expect(await codeOf(read(client(reading(), {}), `${prefix}/put`))).toBe('ERR_UNSIGNED_OBJECT');
      }
    }, 120_000);
  }
});

describe('moving between the formats', () => {
  it('convertS3ec on a client that writes S3EC still converts to s3crypt format (and the rotation keeps it)', async () => {
    const target = new RawAesKeyring({ keyName: 'converted', masterKey: randomBytes(32) });
    const writer = new EncryptingS3Client({ client: plain, keyring: new MultiKeyring({ generator: kmsKeyring(), decryptOnly: [target] }), s3ec: { write: { instructionFile: true } } });
    const plaintext = markedBytes(6 * MiB, 12);
    await new Upload({ client: writer, params: { Bucket: bucket, Key: 'convert/one', Body: plaintext }, partSize: PART }).done();
    expect(await exists('convert/one.instruction')).toBe(true);
    expect(await rotateKeys(writer, { bucket, prefix: 'convert/', to: target, convertS3ec: true })).toMatchObject({ rotated: 1, failed: 0 });
    expect(Object.keys(await storedMetadata('convert/one')).some((name) => name.startsWith('x-amz-'))).toBe(false);
    expect(await exists('convert/one.instruction')).toBe(false);
    const out = await new EncryptingS3Client({ client: plain, keyring: target }).send(new GetObjectCommand({ Bucket: bucket, Key: 'convert/one' }));
    expect(Buffer.from(await out.Body!.transformToByteArray()).equals(plaintext)).toBe(true);
    expect(s3cryptInfo(out)).toMatchObject({ encrypted: true, formatVersion: 2 });
  }, 60_000);
});

describe('fail closed', () => {
  const refused: [string, () => Keyring][] = [
    ["s3crypt's RawAesKeyring", () => new RawAesKeyring({ keyName: 'k', masterKey: randomBytes(32) })],
    ['a MultiKeyring with two KMS keys', () => new MultiKeyring({ generator: kmsKeyring(), children: [kmsKeyring()] })],
  ];
  for (const [label, keyring] of refused) {
    it(`${label} cannot produce an S3EC wrapping: PutObject and Upload are refused, nothing is stored`, async () => {
      const prefix = `refused/${label.replace(/\W+/g, '-')}`;
      const writer = client(keyring());
      expect(await codeOf(writer.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/put`, Body: 'x' })))).toBe('ERR_S3EC_WRAPPING_UNSUPPORTED');
      expect(await codeOf(new Upload({ client: writer, params: { Bucket: bucket, Key: `${prefix}/upload`, Body: markedBytes(11 * MiB) }, partSize: PART }).done())).toBe(
        'ERR_S3EC_WRAPPING_UNSUPPORTED',
      );
      expect(await keysUnder(prefix)).toEqual([]);
      expect(await openUploads(prefix)).toBe(0);
    });
  }

  for (const instructionFile of [false, true]) {
    it(`an Upload aborted after its first part (Ctrl-C) leaves no object, no upload${instructionFile ? ' and no instruction file' : ''}`, async () => {
      const key = `aborted/${instructionFile ? 'file' : 'meta'}`;
      // Its own S3 client, to see when lib-storage's clean-up (AbortMultipartUpload) has reached the store.
      const watched = s3Client(inject('s3'));
      let cleanedUp!: () => void;
      const cleanUp = new Promise<void>((resolve) => (cleanedUp = resolve));
      watched.middlewareStack.add(
        (next, context) => async (args) => {
          const result = await next(args);
          if (context.commandName === 'AbortMultipartUploadCommand') cleanedUp();
          return result;
        },
        { step: 'initialize', name: 'seeAbort' },
      );
      const writer = new EncryptingS3Client({ client: watched, keyring: kmsKeyring(), s3ec: { write: { instructionFile } } });
      const upload = new Upload({ client: writer, params: { Bucket: bucket, Key: key, Body: markedBytes(4 * PART, 9) }, partSize: PART, queueSize: 1 });
      upload.on('httpUploadProgress', () => void upload.abort());
      const outcome = await upload.done().then(
        () => 'completed',
        (error: Error) => error.name,
      );
      expect(outcome).toBe('AbortError');
      await cleanUp;
      expect(await exists(key)).toBe(false);
      expect(await exists(`${key}.instruction`)).toBe(false);
      expect(await openUploads(key)).toBe(0);
      watched.destroy();
    });
  }
});
