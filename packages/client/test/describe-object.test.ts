// describeObject on objects built in memory with the client's own format functions, served by a
// small stand-in store that answers ranged GETs and HEADs as S3 does. Against MinIO (single PUT,
// lib-storage multipart, S3EC metadata): test/object-inspection-minio.test.ts.
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { generateKeyPairSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EncryptingS3Client } from '../src/client/encrypting-client.js';
import { DecryptionError, EnvelopeError, S3CryptError } from '../src/errors.js';
import { signerIdOf } from '../src/format/signature.js';
import { describeObject, type ObjectDescription, type S3CryptObjectDescription } from '../src/inspection/describe-object.js';
import { kekVersionOf } from '../src/keyrings/kek-version.js';
import type { Keyring } from '../src/keyrings/keyring.js';
import { BUCKET, KEY, getInMemory, multipartInMemory, pattern, putInMemory, testKeyring, type StoredObject } from './helpers.js';

const SEGMENT = 4096;
const keyring = testKeyring();

interface Served {
  readonly metadata: Record<string, string>;
  readonly body: Buffer;
  readonly etag?: string;
}

function storeError(name: string, status: number): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
}

/** Serves `objects` by key: suffix ranges as S3 answers them (416 for an empty object), HEAD, If-Match. */
function standInStore(objects: Record<string, Served>) {
  const requests: { command: string; range?: string; ifMatch?: string }[] = [];
  const send = async (command: GetObjectCommand | HeadObjectCommand) => {
    const input = command.input as { Key: string; Range?: string; IfMatch?: string };
    const head = command instanceof HeadObjectCommand;
    requests.push({ command: head ? 'HeadObject' : 'GetObject', ...(input.Range ? { range: input.Range } : {}), ...(input.IfMatch ? { ifMatch: input.IfMatch } : {}) });
    const object = objects[input.Key];
    if (!object) throw storeError(head ? 'NotFound' : 'NoSuchKey', 404);
    const etag = object.etag ?? '"etag-1"';
    if (input.IfMatch !== undefined && input.IfMatch !== etag) throw storeError('PreconditionFailed', 412);
    const common = { Metadata: object.metadata, ETag: etag, LastModified: new Date(0) };
    if (head) return { $metadata: { httpStatusCode: 200 }, ...common, ContentLength: object.body.length };
    const asked = Number(/^bytes=-(\d+)$/.exec(input.Range ?? '')?.[1]);
    if (object.body.length === 0) throw storeError('InvalidRange', 416);
    const start = Math.max(0, object.body.length - asked);
    return {
      $metadata: { httpStatusCode: 206 },
      ...common,
      ContentRange: `bytes ${start}-${object.body.length - 1}/${object.body.length}`,
      ContentLength: object.body.length - start,
      Body: Readable.from([object.body.subarray(start)]),
    };
  };
  return { client: { send } as unknown as S3Client, requests };
}

async function describeStored(stored: StoredObject | Served, options: Parameters<typeof describeObject>[2] = {}) {
  const store = standInStore({ [KEY]: stored });
  return { description: await describeObject(store.client, { Bucket: BUCKET, Key: KEY }, options), requests: store.requests };
}

function asS3Crypt(description: ObjectDescription): S3CryptObjectDescription {
  if (description.format !== 's3crypt') throw new Error(`expected an s3crypt object, got ${description.format}`);
  return description;
}

async function describeFailure(stored: Served): Promise<S3CryptError> {
  const error = await describeStored(stored).then(
    () => expect.unreachable('the object was described'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(S3CryptError);
  expect((error as S3CryptError).bucket).toBe(BUCKET);
  expect((error as S3CryptError).key).toBe(KEY);
  return error as S3CryptError;
}

/** The identity a reader authenticates for `stored`. */
async function readerObjectId(stored: StoredObject, callerContext?: Record<string, string>): Promise<string> {
  let objectId = '';
  await getInMemory(keyring, stored, undefined, KEY, { onObjectId: (id) => (objectId = id), ...(callerContext ? { callerContext } : {}) });
  return objectId;
}

describe('describeObject: s3crypt objects, from one ranged GET', () => {
  it('a single PUT (format 2): envelope and trailer as claimed, the identity a reader authenticates', async () => {
    const stored = await putInMemory(keyring, pattern(10_000), SEGMENT);
    const { description, requests } = await describeStored(stored);
    expect(description).toEqual({
      bucket: BUCKET,
      key: KEY,
      etag: '"etag-1"',
      lastModified: new Date(0),
      storedLength: stored.body.length,
      authenticated: false,
      format: 's3crypt',
      formatVersion: 2,
      suite: { id: 1, name: 'AES256GCM_HKDF_SHA256_COMMIT' },
      segmentSize: SEGMENT,
      signed: false,
      keks: [{ providerId: 'raw-aes', keyId: 'unit-test-key', wrappedKeyLength: expect.any(Number) }],
      parts: 1,
      plaintextLength: 10_000,
      objectId: await readerObjectId(stored),
    });
    expect(requests).toEqual([{ command: 'GetObject', range: 'bytes=-8192' }]);
  });

  it('format 1, and the caller context in format 2 identities', async () => {
    const v1 = await putInMemory(keyring, pattern(100), SEGMENT, KEY, { version: 1 });
    const described = asS3Crypt((await describeStored(v1, { encryptionContext: { tenant: 'acme' } })).description);
    expect(described).toMatchObject({ formatVersion: 1, plaintextLength: 100 });
    expect(described.objectId).toBe(await readerObjectId(v1));

    const context = { tenant: 'acme' };
    const v2 = await putInMemory(keyring, pattern(100), SEGMENT, KEY, { callerContext: context });
    expect(asS3Crypt((await describeStored(v2, { encryptionContext: context })).description).objectId).toBe(await readerObjectId(v2, context));
    expect(asS3Crypt((await describeStored(v2)).description).objectId).not.toBe(await readerObjectId(v2, context));
  });

  it('a signed object names its suite and signer', async () => {
    const signer = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const stored = await putInMemory(keyring, pattern(50), SEGMENT, KEY, { signingKey: signer.privateKey });
    expect(asS3Crypt((await describeStored(stored)).description)).toMatchObject({
      suite: { id: 2, name: 'AES256GCM_HKDF_SHA256_COMMIT_ECDSA_P384' },
      signed: true,
      signerId: Buffer.from(signerIdOf(signer.publicKey)).toString('hex'),
    });
  });

  it('a multipart object whose trailer is longer than the tail fetched: one more GET, pinned to the same write', async () => {
    const upload = await multipartInMemory(keyring, SEGMENT);
    const parts = Array.from({ length: 300 }, (_, i) => upload.uploadPart(i + 1, pattern(3, i)));
    const stored = upload.complete(parts);
    const { description, requests } = await describeStored(stored);
    expect(asS3Crypt(description)).toMatchObject({ parts: 300, plaintextLength: 900, objectId: await readerObjectId(stored) });
    expect(requests).toEqual([
      { command: 'GetObject', range: 'bytes=-8192' },
      { command: 'GetObject', range: `bytes=-${36 + 28 * 300}`, ifMatch: '"etag-1"' },
    ]);
  });

  it('never calls a keyring, also through an EncryptingS3Client', async () => {
    const stored = await putInMemory(keyring, pattern(10), SEGMENT);
    const calls: string[] = [];
    const spy: Keyring = {
      onEncrypt: () => Promise.reject(new Error(String(calls.push('onEncrypt')))),
      onDecrypt: () => Promise.reject(new Error(String(calls.push('onDecrypt')))),
      kekMatchers: () => keyring.kekMatchers(),
    };
    const client = new EncryptingS3Client({ client: standInStore({ [KEY]: stored }).client, keyring: spy });
    expect((await describeObject(client, { Bucket: BUCKET, Key: KEY })).format).toBe('s3crypt');
    expect(calls).toEqual([]);
  });
});

describe('describeObject: what is not authenticated, and what fails', () => {
  it('a changed trailer tag still describes (nothing is authenticated) but with another identity', async () => {
    const stored = await putInMemory(keyring, pattern(100), SEGMENT);
    const body = Buffer.from(stored.body);
    body[body.length - 4 - 1]! ^= 1; // the last byte of the trailer's tag
    const described = asS3Crypt((await describeStored({ ...stored, body })).description);
    expect(described.authenticated).toBe(false);
    expect(described.plaintextLength).toBe(100);
    expect(described.objectId).not.toBe(await readerObjectId(stored));
  });

  it('a trailer that does not fit the stored object: the typed errors of a read', async () => {
    const stored = await putInMemory(keyring, pattern(100), SEGMENT);
    const count = Buffer.from(stored.body);
    count.writeUInt32BE(2, count.length - 4);
    expect((await describeFailure({ ...stored, body: count })).code).toMatch(/^ERR_OBJECT_(TRUNCATED|MALFORMED)$/);
    const huge = Buffer.from(stored.body);
    huge.writeUInt32BE(0xffffffff, huge.length - 4);
    expect((await describeFailure({ ...stored, body: huge })).code).toBe('ERR_OBJECT_MALFORMED');
    // The entry's plaintext length (after salt 16 and part number 4) claims one byte more.
    const length = Buffer.from(stored.body);
    const entry = length.length - 64 + 16 + 4;
    length.writeBigUInt64BE(101n, entry);
    expect((await describeFailure({ ...stored, body: length })).code).toBe('ERR_OBJECT_TRUNCATED');
    expect((await describeFailure({ ...stored, body: stored.body.subarray(1) })).code).toBe('ERR_OBJECT_TRUNCATED');
  });

  it('a malformed envelope', async () => {
    const stored = await putInMemory(keyring, pattern(10), SEGMENT);
    const error = await describeFailure({ ...stored, metadata: { 's3crypt-envelope': 'AAAA\u202e' } });
    expect(error).toBeInstanceOf(EnvelopeError);
    expect(error.code).toBe('ERR_ENVELOPE_MALFORMED');
    expect(error.message).toContain(`s3://${BUCKET}/${KEY}`);
  });

  it('an empty object: plaintext from a HEAD, or an s3crypt object cut to nothing', async () => {
    const { description, requests } = await describeStored({ metadata: {}, body: Buffer.alloc(0) });
    expect(description).toMatchObject({ format: 'plaintext', storedLength: 0, plaintextLength: 0, keks: [] });
    expect(requests.map((r) => r.command)).toEqual(['GetObject', 'HeadObject']);
    const stored = await putInMemory(keyring, pattern(10), SEGMENT);
    const cut = await describeFailure({ ...stored, body: Buffer.alloc(0) });
    expect(cut).toBeInstanceOf(DecryptionError);
    expect(cut.code).toBe('ERR_OBJECT_TRUNCATED');
  });

  it('plaintext, and s3crypt metadata without an envelope (refused as reads refuse it)', async () => {
    expect((await describeStored({ metadata: { team: 'x' }, body: Buffer.from('hello') })).description).toMatchObject({ format: 'plaintext', plaintextLength: 5 });
    expect((await describeFailure({ metadata: { 's3crypt-envelope-old': 'x' }, body: Buffer.from('hello') })).code).toBe('ERR_ENVELOPE_MALFORMED');
  });

  it('S3EC objects: recognised, plaintext length from the GCM tag', async () => {
    const metadata = {
      'x-amz-key-v2': Buffer.alloc(40).toString('base64'),
      'x-amz-iv': Buffer.alloc(12).toString('base64'),
      'x-amz-matdesc': '{}',
      'x-amz-wrap-alg': 'AES/GCM',
      'x-amz-cek-alg': 'AES/GCM/NoPadding',
      'x-amz-tag-len': '128',
    };
    const { description } = await describeStored({ metadata, body: Buffer.alloc(116) });
    expect(description).toMatchObject({ format: 's3ec', formatVersion: 2, contentAlgorithm: 'AES/GCM/NoPadding', wrapAlgorithm: 'AES/GCM', instructionFile: false, plaintextLength: 100, keks: [] });
    expect((await describeStored({ metadata: { 'x-amz-crypto-instr-file': '' }, body: Buffer.from('{}') })).description).toMatchObject({ format: 'plaintext', s3ecInstructionFile: true });
  });

  it("a missing object fails with the store's own error", async () => {
    const store = standInStore({});
    await expect(describeObject(store.client, { Bucket: BUCKET, Key: 'missing' })).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  it('misuse is a TypeError', async () => {
    const store = standInStore({});
    await expect(describeObject(store.client, { Bucket: '', Key: 'k' })).rejects.toThrow(TypeError);
    await expect(describeObject({} as S3Client, { Bucket: 'b', Key: 'k' })).rejects.toThrow(TypeError);
    await expect(describeObject(store.client, { Bucket: 'b', Key: 'k' }, { encryptionContext: { 's3crypt:bucket': 'x' } })).rejects.toThrow(TypeError);
  });
});

describe('KEK versions as providers record them', () => {
  const edk = (providerId: string, keyId: string, ciphertext = 'opaque') => ({ providerId, keyId, ciphertext: Buffer.from(ciphertext) });
  it('reads each known provider, nothing else', () => {
    expect(kekVersionOf(edk('vault-transit', 'transit/app', 'vault:v12:AAAA'))).toBe('12');
    expect(kekVersionOf(edk('gcp-kms', 'projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/3'))).toBe('3');
    expect(kekVersionOf(edk('azure-key-vault', 'https://v.vault.azure.net/keys/kek/0123abcd'))).toBe('0123abcd');
    expect(kekVersionOf(edk('azure-key-vault', 'https://v.vault.azure.net/keys/kek'))).toBeUndefined();
    expect(kekVersionOf(edk('s3crypt-hierarchy', 'branch-1:v4'))).toBe('4');
    expect(kekVersionOf(edk('aws-kms', 'arn:aws:kms:eu-west-1:1:key/k'))).toBeUndefined();
    expect(kekVersionOf(edk('raw-aes', 'app:v2'))).toBeUndefined();
  });
});
