// Format 2 through EncryptingS3Client against real MinIO: signed objects, the caller context, the
// authenticated object identity on every output, rollback detection on a versioned bucket, and the
// caller's abortSignal reaching keyring calls.
import { GetObjectCommand, HeadObjectCommand, PutBucketVersioningCommand, PutObjectCommand, CopyObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EncryptingS3Client, RawAesKeyring, s3cryptInfo, withS3Crypt, type Keyring } from '@s3crypt/client';
import { getBody, markedBytes, testClients } from './harness/clients.js';

const MiB = 1024 * 1024;

describe('object identity through MinIO', () => {
  it('PutObject, lib-storage Upload, GetObject and HeadObject report the same authenticated identity', async () => {
    const { encrypting, bucket } = await testClients();
    const put = await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'small', Body: 'hello' }));
    const putInfo = s3cryptInfo(put)!;
    expect(putInfo).toMatchObject({ encrypted: true, formatVersion: 2, objectId: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    const got = await encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'small' }));
    expect(s3cryptInfo(got)?.objectId).toBe(putInfo.objectId);
    expect(await got.Body!.transformToString()).toBe('hello');
    expect(s3cryptInfo(await encrypting.send(new HeadObjectCommand({ Bucket: bucket, Key: 'small' })))?.objectId).toBe(putInfo.objectId);

    const upload = await new Upload({ client: encrypting, params: { Bucket: bucket, Key: 'big', Body: markedBytes(11 * MiB) }, partSize: 5 * MiB }).done();
    const uploadId = s3cryptInfo(upload)?.objectId;
    expect(uploadId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const ranged = await encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'big', Range: 'bytes=100-200' }));
    expect(s3cryptInfo(ranged)?.objectId).toBe(uploadId);
    await ranged.Body!.transformToByteArray();
  });

  it('an older version served for the current one is refused when the caller demands the identity it stored', async () => {
    const { plain, encrypting, bucket } = await testClients();
    await plain.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const old = await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: 'version one' }));
    const current = await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: 'version two' }));
    const expectedObjectId = s3cryptInfo(current)!.objectId!;
    // The old version is a perfectly valid object of the same key: only the identity tells them apart.
    const rollback = withS3Crypt(new GetObjectCommand({ Bucket: bucket, Key: 'doc', VersionId: old.VersionId }), { expectedObjectId });
    await expect(encrypting.send(rollback)).rejects.toMatchObject({ code: 'ERR_OBJECT_ID_MISMATCH' });
    const headRollback = withS3Crypt(new HeadObjectCommand({ Bucket: bucket, Key: 'doc', VersionId: old.VersionId }), { expectedObjectId });
    await expect(encrypting.send(headRollback)).rejects.toMatchObject({ code: 'ERR_OBJECT_ID_MISMATCH' });
    const fine = await encrypting.send(withS3Crypt(new GetObjectCommand({ Bucket: bucket, Key: 'doc' }), { expectedObjectId }));
    expect(await fine.Body!.transformToString()).toBe('version two');
  });

  it('a copy through the client has its own identity and reads back', async () => {
    const { encrypting, bucket } = await testClients();
    const put = await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: 'copied' }));
    await encrypting.send(new CopyObjectCommand({ Bucket: bucket, Key: 'dst', CopySource: `${bucket}/src` }));
    const copy = await encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'dst' }));
    expect(await copy.Body!.transformToString()).toBe('copied');
    expect(s3cryptInfo(copy)?.objectId).not.toBe(s3cryptInfo(put)?.objectId);
  });
});

describe('caller encryption context through MinIO', () => {
  it('is required again on read, and carried through multipart uploads', async () => {
    const { encrypting, bucket } = await testClients();
    const encryptionContext = { tenant: 'acme', purpose: 'invoices' };
    await encrypting.send(withS3Crypt(new PutObjectCommand({ Bucket: bucket, Key: 'ctx', Body: 'bound' }), { encryptionContext }));
    const ok = await encrypting.send(withS3Crypt(new GetObjectCommand({ Bucket: bucket, Key: 'ctx' }), { encryptionContext }));
    expect(await ok.Body!.transformToString()).toBe('bound');
    await expect(encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: 'ctx' }))).rejects.toBeDefined();
    await expect(encrypting.send(withS3Crypt(new GetObjectCommand({ Bucket: bucket, Key: 'ctx' }), { encryptionContext: { tenant: 'other' } }))).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_(KEY_UNWRAP_FAILED|HEADER_AUTH_FAILED)$/),
    });
    expect(() => withS3Crypt(new GetObjectCommand({ Bucket: bucket, Key: 'ctx' }), { encryptionContext: { 's3crypt:key': 'x' } })).toThrow(TypeError);
  });
});

describe('signed objects through MinIO', () => {
  it('a writer with a signing key and a reader pinning it round-trip; a reader pinning another key refuses', async () => {
    const signer = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const masterKey = randomBytes(32);
    const keyring = new RawAesKeyring({ keyName: 'signed-test', masterKey });
    const { plain, bucket } = await testClients();
    const writer = new EncryptingS3Client({ client: plain, keyring, signingKey: signer.privateKey });
    const reader = new EncryptingS3Client({ client: plain, keyring, keyPolicy: { verificationKeys: [signer.publicKey] } });
    const stranger = new EncryptingS3Client({ client: plain, keyring, keyPolicy: { verificationKeys: [other.publicKey] } });
    const data = markedBytes(300_000);
    await writer.send(new PutObjectCommand({ Bucket: bucket, Key: 'signed', Body: data }));
    expect((await getBody(reader, bucket, 'signed')).equals(data)).toBe(true);
    await expect(stranger.send(new GetObjectCommand({ Bucket: bucket, Key: 'signed' }))).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' });
    // The signature covers the content, not the wrapped keys or the location: a copy re-wraps and stays signed.
    await reader.send(new CopyObjectCommand({ Bucket: bucket, Key: 'signed-copy', CopySource: `${bucket}/signed` }));
    expect((await getBody(reader, bucket, 'signed-copy')).equals(data)).toBe(true);
    await new Upload({ client: writer, params: { Bucket: bucket, Key: 'signed-mpu', Body: markedBytes(6 * MiB) }, partSize: 5 * MiB }).done();
    expect((await getBody(reader, bucket, 'signed-mpu')).equals(markedBytes(6 * MiB))).toBe(true);
    // An unsigned object from a writer without the key is refused by the pinning reader.
    await new EncryptingS3Client({ client: plain, keyring }).send(new PutObjectCommand({ Bucket: bucket, Key: 'unsigned', Body: 'x' }));
    await expect(reader.send(new HeadObjectCommand({ Bucket: bucket, Key: 'unsigned' }))).rejects.toMatchObject({ code: 'ERR_UNSIGNED_OBJECT' });
    expect(() => new EncryptingS3Client({ client: plain, keyring, signingKey: signer.publicKey })).toThrow(TypeError);
  });
});

describe("the caller's abortSignal reaches keyring calls", () => {
  it('a keyring that waits on a slow KMS is cancelled with the caller’s abort, on write and on read', async () => {
    const { plain, encrypting, keyring, bucket } = await testClients();
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: 'slow', Body: 'x' }));
    const seen: (AbortSignal | undefined)[] = [];
    const slow = (signal: AbortSignal | undefined) =>
      new Promise<never>((_, reject) => {
        seen.push(signal);
        signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      });
    const hanging: Keyring = {
      onEncrypt: ({ signal }) => slow(signal),
      onDecrypt: ({ signal }) => slow(signal),
      kekMatchers: () => keyring.kekMatchers!(),
    };
    const client = new EncryptingS3Client({ client: plain, keyring: hanging });
    for (const command of [new PutObjectCommand({ Bucket: bucket, Key: 'never', Body: 'x' }), new GetObjectCommand({ Bucket: bucket, Key: 'slow' })]) {
      const controller = new AbortController();
      const pending = client.send(command, { abortSignal: controller.signal });
      setTimeout(() => controller.abort(new Error('caller gave up')), 50);
      await expect(pending).rejects.toThrow('caller gave up');
    }
    expect(seen).toHaveLength(2);
    expect(seen.every((signal) => signal?.aborted)).toBe(true);
    await expect(plain.send(new HeadObjectCommand({ Bucket: bucket, Key: 'never' }))).rejects.toMatchObject({ name: 'NotFound' });
  });
});
