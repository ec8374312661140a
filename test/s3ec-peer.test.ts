// Self-test of the S3EC peer harness (test/harness/s3ec-peer.ts): the official AWS S3 Encryption
// Client for Python 4.0.0 writes objects on the test MinIO with its KMS keyring on moto, reads them
// back, and this file pins what it stores — metadata names and values, lengths, the multipart ETag —
// and checks every object by the specification's rules with node:crypto alone, so the cross tests of
// issue 9 start from a peer known to be driven right. What was observed is written up in
// docs/INTEROP.md, "The Python peer (observed)".
import { createDecipheriv, hkdfSync } from 'node:crypto';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DecryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getBody, MARKER } from './harness/clients.js';
import {
  startPeerFixture,
  type PeerFixture,
  PEER_MIN_PART_SIZE,
  PEER_SIZES,
  peerGet,
  peerMetadata,
  peerPut,
  peerRejection,
  S3EC_PEER_VERSION,
  writePeerObjects,
  type PeerObject,
  type PeerServers,
  type PeerVersions,
} from './harness/s3ec-peer.js';

const MiB = 1024 * 1024;
const SUITE_115 = Buffer.from([0x00, 0x73]);
const CONTEXT = { department: 'finance', purpose: 's3crypt-peer-test' };

let fixture: PeerFixture;
let kms: KMSClient;
let plain: S3Client;
let servers: PeerServers;
let bucket: string;
let kmsKeyId: string;
let versions: PeerVersions;
/** Every size in V3 and V2, 20 MiB through the peer's multipart path; written once for the file. */
let objects: PeerObject[];

beforeAll(async () => {
  fixture = await startPeerFixture(inject('s3'), 's3ec-peer', 's3crypt S3EC peer self-test');
  ({ kms, plain, servers, bucket, keyId: kmsKeyId, versions } = fixture);
  objects = await writePeerObjects(servers, { bucket, kmsKeyId });
});

afterAll(() => fixture?.stop());

const b64 = (text: string | undefined) => Buffer.from(text ?? '', 'base64');
const ofFormat = (format: 'v3' | 'v2') => objects.filter((object) => object.format === format);

/** The data key, from moto's KMS with exactly the context the object stores. */
async function dataKey(wrapped: string, context: Record<string, string>): Promise<Buffer> {
  const { Plaintext } = await kms.send(new DecryptCommand({ KeyId: kmsKeyId, CiphertextBlob: b64(wrapped), EncryptionContext: context }));
  return Buffer.from(Plaintext!);
}

/** One AES-256-GCM stream over the whole object, its 16-byte tag last. */
function gcmOpen(key: Buffer, iv: Buffer, aad: Buffer | undefined, stored: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  if (aad) decipher.setAAD(aad);
  decipher.setAuthTag(stored.subarray(stored.length - 16));
  return Buffer.concat([decipher.update(stored.subarray(0, stored.length - 16)), decipher.final()]);
}

describe('the S3EC Python peer (amazon-s3-encryption-client-python) on MinIO and moto', () => {
  it('is the pinned version', () => {
    expect(versions['amazon-s3-encryption-client-python']).toBe(S3EC_PEER_VERSION);
    expect(versions.boto3).toMatch(/^1\./);
  });

  it('writes every size in V3 and V2 (20 MiB through its multipart path) and reads each back identical', async () => {
    expect(objects.map((object) => `${object.format}:${object.plaintext.length}:${object.multipart}`)).toEqual(
      (['v3', 'v2'] as const).flatMap((format) => PEER_SIZES.map((size) => `${format}:${size}:${size >= 8 * MiB}`)),
    );
    for (const object of objects) {
      const policy = object.format === 'v2' ? 'REQUIRE_ENCRYPT_ALLOW_DECRYPT' : undefined;
      const read = await peerGet(servers, { bucket, key: object.key, kmsKeyId, ...(policy ? { commitmentPolicy: policy } : {}) });
      expect(read.equals(object.plaintext), object.key).toBe(true);
    }
  });

  it('stores V3 as suite 115 with KMS+context wrapping: x-amz-c/3/w/i/d/t, nothing else, ciphertext = plaintext + 16', () => {
    for (const { key, plaintext, stored } of ofFormat('v3')) {
      const { metadata } = stored;
      expect(Object.keys(metadata).sort(), key).toEqual(['x-amz-3', 'x-amz-c', 'x-amz-d', 'x-amz-i', 'x-amz-t', 'x-amz-w']);
      expect(metadata['x-amz-c']).toBe('115');
      expect(metadata['x-amz-w']).toBe('12');
      expect(b64(metadata['x-amz-i'])).toHaveLength(28);
      expect(b64(metadata['x-amz-d'])).toHaveLength(28);
      expect(b64(metadata['x-amz-3']).length).toBeGreaterThan(0);
      for (const name of ['x-amz-i', 'x-amz-d', 'x-amz-3']) expect(b64(metadata[name]).toString('base64')).toBe(metadata[name]);
      // Python's json.dumps layout (", " and ": "); the reserved key is added by the KMS keyring.
      expect(metadata['x-amz-t']).toBe('{"aws:x-amz-cek-alg": "115"}');
      expect(stored.contentLength).toBe(plaintext.length + 16);
    }
  });

  it('reports with its metadata command what S3 holds (the same as put reported)', async () => {
    for (const { bucket: at, key, stored } of [ofFormat('v3')[2]!, ofFormat('v2')[6]!]) {
      expect(await peerMetadata(servers, { bucket: at, key })).toEqual(stored);
      const head = await plain.send(new HeadObjectCommand({ Bucket: at, Key: key }));
      expect(head.Metadata).toEqual(stored.metadata);
      expect(head.ContentLength).toBe(stored.contentLength);
    }
  });

  it('stores V2 as AES/GCM/NoPadding with kms+context: x-amz-key-v2/iv/cek-alg/tag-len/wrap-alg/matdesc, ciphertext = plaintext + 16', () => {
    for (const { key, plaintext, stored } of ofFormat('v2')) {
      const { metadata } = stored;
      expect(Object.keys(metadata).sort(), key).toEqual(['x-amz-cek-alg', 'x-amz-iv', 'x-amz-key-v2', 'x-amz-matdesc', 'x-amz-tag-len', 'x-amz-wrap-alg']);
      expect(metadata['x-amz-cek-alg']).toBe('AES/GCM/NoPadding');
      expect(metadata['x-amz-wrap-alg']).toBe('kms+context');
      expect(metadata['x-amz-tag-len']).toBe('128');
      expect(b64(metadata['x-amz-iv'])).toHaveLength(12);
      expect(metadata['x-amz-matdesc']).toBe('{"aws:x-amz-cek-alg": "AES/GCM/NoPadding"}');
      expect(stored.contentLength).toBe(plaintext.length + 16);
    }
  });

  it('uploads 20 MiB through multipart in 5 MiB parts (a 4-part ETag) with the same metadata as a single PutObject', async () => {
    for (const object of objects.filter((o) => o.multipart)) {
      expect(object.stored.eTag, object.key).toMatch(/-4"$/);
      expect(object.stored.contentLength).toBe(20 * MiB + 16);
    }
    for (const object of objects.filter((o) => !o.multipart)) expect(object.stored.eTag, object.key).not.toMatch(/-\d+"$/);
    // And once through its single PutObject, for the same size.
    const big = objects.find((o) => o.format === 'v3' && o.multipart)!;
    const single = await peerPut(servers, { bucket, key: 'peer/v3/put/20MiB', kmsKeyId, body: big.plaintext });
    expect(single.eTag).not.toMatch(/-\d+"$/);
    expect(Object.keys(single.metadata).sort()).toEqual(Object.keys(big.stored.metadata).sort());
    expect((await peerGet(servers, { bucket, key: 'peer/v3/put/20MiB', kmsKeyId })).equals(big.plaintext)).toBe(true);
  });

  it('writes V3 by the specification: KMS context = x-amz-t, HKDF-SHA512 key and commitment, one GCM stream (nonce 0x01…, AAD 0x0073)', async () => {
    for (const { key, plaintext, stored } of ofFormat('v3')) {
      const ciphertext = await getBody(plain, bucket, key);
      expect(ciphertext).toHaveLength(stored.contentLength);
      if (plaintext.length >= MARKER.length) expect(ciphertext.includes(MARKER), key).toBe(false);
      const { metadata } = stored;
      const dk = await dataKey(metadata['x-amz-3']!, JSON.parse(metadata['x-amz-t']!) as Record<string, string>);
      const messageId = b64(metadata['x-amz-i']);
      const derive = (label: string, length: number) => Buffer.from(hkdfSync('sha512', dk, messageId, Buffer.concat([SUITE_115, Buffer.from(label)]), length));
      expect(derive('COMMITKEY', 28).equals(b64(metadata['x-amz-d'])), key).toBe(true);
      expect(gcmOpen(derive('DERIVEKEY', 32), Buffer.alloc(12, 0x01), SUITE_115, ciphertext).equals(plaintext), key).toBe(true);
      dk.fill(0);
    }
  });

  it('writes V2 by the specification: KMS context = x-amz-matdesc, plain AES-256-GCM with x-amz-iv and no AAD', async () => {
    for (const { key, plaintext, stored } of ofFormat('v2')) {
      const { metadata } = stored;
      const dk = await dataKey(metadata['x-amz-key-v2']!, JSON.parse(metadata['x-amz-matdesc']!) as Record<string, string>);
      expect(gcmOpen(dk, b64(metadata['x-amz-iv']), undefined, await getBody(plain, bucket, key)).equals(plaintext), key).toBe(true);
      dk.fill(0);
    }
  });

  it('refuses V2 under its default policy REQUIRE_ENCRYPT_REQUIRE_DECRYPT, and reads it under FORBID_ENCRYPT_ALLOW_DECRYPT', async () => {
    const small = ofFormat('v2').find((o) => o.plaintext.length === 17)!;
    const refused = await peerRejection(peerGet(servers, { bucket, key: small.key, kmsKeyId }));
    expect(refused.pythonError).toBe('S3EncryptionClientError');
    expect(refused.message).toContain('REQUIRE_ENCRYPT_REQUIRE_DECRYPT');
    const read = await peerGet(servers, { bucket, key: small.key, kmsKeyId, commitmentPolicy: 'FORBID_ENCRYPT_ALLOW_DECRYPT' });
    expect(read.equals(small.plaintext)).toBe(true);
  });

  it('stores the caller’s encryption context in x-amz-t (V3) / x-amz-matdesc (V2) and reads only with exactly that context', async () => {
    const body = 'context-bound';
    const v3 = await peerPut(servers, { bucket, key: 'context/v3', kmsKeyId, body, encryptionContext: CONTEXT });
    expect(JSON.parse(v3.metadata['x-amz-t']!)).toEqual({ ...CONTEXT, 'aws:x-amz-cek-alg': '115' });
    expect(v3.metadata['x-amz-t']).toBe('{"department": "finance", "purpose": "s3crypt-peer-test", "aws:x-amz-cek-alg": "115"}');
    expect(v3.metadata['x-amz-m']).toBeUndefined();
    const v2 = await peerPut(servers, { bucket, key: 'context/v2', kmsKeyId, body, encryptionContext: CONTEXT, format: 'v2' });
    expect(JSON.parse(v2.metadata['x-amz-matdesc']!)).toEqual({ ...CONTEXT, 'aws:x-amz-cek-alg': 'AES/GCM/NoPadding' });

    expect((await peerGet(servers, { bucket, key: 'context/v3', kmsKeyId, encryptionContext: CONTEXT })).toString()).toBe(body);
    expect((await peerGet(servers, { bucket, key: 'context/v2', kmsKeyId, encryptionContext: CONTEXT, commitmentPolicy: 'REQUIRE_ENCRYPT_ALLOW_DECRYPT' })).toString()).toBe(body);
    for (const wrong of [undefined, { department: 'finance' }, { ...CONTEXT, extra: 'x' }]) {
      const error = await peerRejection(peerGet(servers, { bucket, key: 'context/v3', kmsKeyId, ...(wrong ? { encryptionContext: wrong } : {}) }));
      expect(error.message).toContain('Provided encryption context does not match');
    }
    const reserved = await peerRejection(peerGet(servers, { bucket, key: 'context/v3', kmsKeyId, encryptionContext: { ...CONTEXT, 'aws:x-amz-cek-alg': '115' } }));
    expect(reserved.message).toContain('reserved key');
  });

  it('overwrites a caller’s reserved aws:x-amz-cek-alg on write and refuses non-ASCII context', async () => {
    const stored = await peerPut(servers, { bucket, key: 'context/reserved', kmsKeyId, body: 'x', encryptionContext: { 'aws:x-amz-cek-alg': 'evil', a: 'b' } });
    expect(JSON.parse(stored.metadata['x-amz-t']!)).toEqual({ 'aws:x-amz-cek-alg': '115', a: 'b' });
    const error = await peerRejection(peerPut(servers, { bucket, key: 'context/non-ascii', kmsKeyId, body: 'x', encryptionContext: { a: 'é' } }));
    expect(error.message).toContain('US-ASCII');
  });

  it('writes no instruction file, and cannot upload an empty body through its multipart path', async () => {
    for (const key of ['context/v3', objects[0]!.key]) {
      await expect(plain.send(new HeadObjectCommand({ Bucket: bucket, Key: `${key}.instruction` }))).rejects.toMatchObject({ name: 'NotFound' });
    }
    const error = await peerRejection(peerPut(servers, { bucket, key: 'empty/multipart', kmsKeyId, body: '', multipart: true, partSize: PEER_MIN_PART_SIZE }));
    expect(error.message).toContain('final part has not been uploaded');
  });

  it('reports a missing object and an unknown KMS key as typed peer errors', async () => {
    const missing = await peerRejection(peerGet(servers, { bucket, key: 'no/such/object', kmsKeyId }));
    expect(missing.pythonError).toBe('S3EncryptionClientError');
    expect(missing.message).toContain('NoSuchKey');
    const unknownKey = await peerRejection(peerGet(servers, { bucket, key: objects[1]!.key, kmsKeyId: '00000000-0000-0000-0000-000000000000' }));
    expect(unknownKey.message).toContain('NotFoundException');
  });
});
