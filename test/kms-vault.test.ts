// VaultTransitKeyring against a real OpenBao dev server (Vault's open-source fork: same Transit API),
// and through EncryptingS3Client on the test MinIO.
//
// OpenBao enforces everything asserted here: associated_data on AEAD keys, soft deletion (the closest
// thing Transit has to disabling a key), min_decryption_version, deletion, and token policies.
// Transit's own hazard: `encrypt` silently creates a missing key for a token with the `create`
// capability; the least-privilege token below (update only) shows writes then fail closed.
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { EncryptingS3Client, objectEncryptionContext } from '@s3crypt/client';
import { transitKeyVersion, VaultTransitKeyring } from '@s3crypt/kms-vault';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectS3RoundTrips } from './harness/kms.js';
import { kmsRejection } from './harness/kms-rejection.js';
import { freshBucket, s3Client } from './harness/minio.js';
import { openBaoFromEnv, openBaoWithTransit, type OpenBao } from './harness/openbao.js';

// VAULT_ADDR + VAULT_TOKEN: use that running server instead of starting one.
const existing = openBaoFromEnv();
let bao: OpenBao;
// Key names outlive a run on a shared server: unique per run.
const runId = `${process.pid}-${Date.now().toString(36)}`;
let keyCounter = 0;

beforeAll(async () => {
  bao = await openBaoWithTransit();
});

afterAll(async () => {
  await bao?.server?.stop();
});

/** A fresh aes256-gcm96 Transit key, and a keyring for it using the root token. */
async function freshKey(): Promise<{ keyName: string; keyring: VaultTransitKeyring }> {
  const keyName = `s3crypt-${runId}-${++keyCounter}`;
  await bao.api('POST', `transit/keys/${keyName}`, { type: 'aes256-gcm96' });
  return { keyName, keyring: new VaultTransitKeyring({ keyName, endpoint: bao.endpoint, token: bao.rootToken }) };
}

/** A token that may only use (never create or manage) one Transit key. */
async function leastPrivilegeToken(keyName: string): Promise<string> {
  const policy = ['encrypt', 'decrypt', 'datakey/plaintext']
    .map((op) => `path "transit/${op}/${keyName}" { capabilities = ["update"] }`)
    .join('\n');
  await bao.api('PUT', `sys/policies/acl/use-${keyName}`, { policy });
  const created = await bao.api('POST', 'auth/token/create', { policies: [`use-${keyName}`], no_default_policy: true });
  return (created.auth as { client_token: string }).client_token;
}


const context = objectEncryptionContext('bucket', 'object');

describe('VaultTransitKeyring on OpenBao', () => {
  it('round-trips generated and given data keys, recording <mount>/<key> and the vault:v1: ciphertext', async () => {
    const { keyName, keyring } = await freshKey();
    const generated = await keyring.onEncrypt({ context });
    const [edk] = generated.encryptedDataKeys;
    expect(edk?.keyId).toBe(`transit/${keyName}`);
    expect(Buffer.from(edk!.ciphertext).toString()).toMatch(/^vault:v1:/);
    expect(await keyring.onDecrypt({ context, encryptedDataKeys: generated.encryptedDataKeys })).toEqual(generated.dataKey);

    const dataKey = new Uint8Array(randomBytes(32));
    const wrapped = await keyring.onEncrypt({ context, dataKey });
    expect(await keyring.onDecrypt({ context, encryptedDataKeys: wrapped.encryptedDataKeys })).toEqual(dataKey);

    const other = await freshKey();
    expect(await other.keyring.onDecrypt({ context, encryptedDataKeys: wrapped.encryptedDataKeys })).toBeUndefined();
  });

  it('fails typed when the context differs (another object, or reordered identity)', async () => {
    const { keyName, keyring } = await freshKey();
    const { encryptedDataKeys } = await keyring.onEncrypt({ context });
    for (const wrong of [objectEncryptionContext('bucket', 'other-object'), { ...context, extra: 'x' }]) {
      const error = await kmsRejection(keyring.onDecrypt({ context: wrong, encryptedDataKeys }));
      expect(error.code).toBe('ERR_KMS_WRONG_KEY');
      expect(error.keyId).toBe(`transit/${keyName}`);
    }
    // Key order does not matter: the associated data is canonical.
    const reordered = Object.fromEntries(Object.entries(context).reverse());
    expect(await keyring.onDecrypt({ context: reordered, encryptedDataKeys })).toBeDefined();
  });

  it('after rotation, old ciphertexts stay readable and new ones use the new version, until min_decryption_version retires the old one', async () => {
    const { keyName, keyring } = await freshKey();
    const v1 = await keyring.onEncrypt({ context });
    await bao.api('POST', `transit/keys/${keyName}/rotate`);
    const v2 = await keyring.onEncrypt({ context });
    expect(transitKeyVersion(v1.encryptedDataKeys[0]!)).toBe(1);
    expect(transitKeyVersion(v2.encryptedDataKeys[0]!)).toBe(2);
    expect(await keyring.onDecrypt({ context, encryptedDataKeys: v1.encryptedDataKeys })).toEqual(v1.dataKey);
    expect(await keyring.onDecrypt({ context, encryptedDataKeys: v2.encryptedDataKeys })).toEqual(v2.dataKey);

    await bao.api('POST', `transit/keys/${keyName}/config`, { min_decryption_version: 2 });
    const error = await kmsRejection(keyring.onDecrypt({ context, encryptedDataKeys: v1.encryptedDataKeys }));
    expect(error.code).toBe('ERR_KMS_KEY_DISABLED');
    expect(error.message).toContain(`transit/${keyName}`);
    expect(await keyring.onDecrypt({ context, encryptedDataKeys: v2.encryptedDataKeys })).toEqual(v2.dataKey);
  });

  it('a soft-deleted key fails reads and writes with ERR_KMS_KEY_DISABLED, and works again once restored', async () => {
    const { keyName, keyring } = await freshKey();
    const before = await keyring.onEncrypt({ context });
    await bao.api('DELETE', `transit/keys/${keyName}/soft-delete`);
    for (const attempt of [
      () => keyring.onDecrypt({ context, encryptedDataKeys: before.encryptedDataKeys }),
      () => keyring.onEncrypt({ context }),
      () => keyring.onEncrypt({ context, dataKey: new Uint8Array(32) }),
    ]) {
      const error = await kmsRejection(attempt());
      expect(error.code).toBe('ERR_KMS_KEY_DISABLED');
      expect(error.keyId).toBe(`transit/${keyName}`);
    }
    await bao.api('POST', `transit/keys/${keyName}/soft-delete-restore`);
    expect(await keyring.onDecrypt({ context, encryptedDataKeys: before.encryptedDataKeys })).toEqual(before.dataKey);
  });

  it('a deleted key fails reads with ERR_KMS_KEY_NOT_FOUND; a least-privilege token cannot re-create it on write', async () => {
    const { keyName, keyring } = await freshKey();
    const token = await leastPrivilegeToken(keyName);
    const scoped = new VaultTransitKeyring({ keyName, endpoint: bao.endpoint, auth: async () => token });
    const before = await scoped.onEncrypt({ context });
    expect(await scoped.onDecrypt({ context, encryptedDataKeys: before.encryptedDataKeys })).toEqual(before.dataKey);

    await bao.api('POST', `transit/keys/${keyName}/config`, { deletion_allowed: true });
    await bao.api('DELETE', `transit/keys/${keyName}`);
    expect((await kmsRejection(keyring.onDecrypt({ context, encryptedDataKeys: before.encryptedDataKeys }))).code).toBe('ERR_KMS_KEY_NOT_FOUND');
    expect((await kmsRejection(scoped.onEncrypt({ context }))).code).toBe('ERR_KMS_KEY_NOT_FOUND');
    expect((await kmsRejection(scoped.onEncrypt({ context, dataKey: new Uint8Array(32) }))).code).toBe('ERR_KMS_ACCESS_DENIED');
    await expect(bao.api('GET', `transit/keys/${keyName}`)).rejects.toThrow(/HTTP 404/);
  });

  it('a mount path with no Transit engine fails with ERR_KMS_KEY_NOT_FOUND', async () => {
    const keyring = new VaultTransitKeyring({ keyName: 'k', mountPath: 'not-mounted', endpoint: bao.endpoint, token: bao.rootToken });
    const error = await kmsRejection(keyring.onEncrypt({ context }));
    expect(error).toMatchObject({ code: 'ERR_KMS_KEY_NOT_FOUND', keyId: 'not-mounted/k' });
  });

  it('a token without access to the key gets ERR_KMS_ACCESS_DENIED', async () => {
    const { keyName } = await freshKey();
    const token = await leastPrivilegeToken('some-other-key');
    const keyring = new VaultTransitKeyring({ keyName, endpoint: bao.endpoint, token });
    const error = await kmsRejection(keyring.onEncrypt({ context }));
    expect(error.code).toBe('ERR_KMS_ACCESS_DENIED');
    expect(error.keyId).toBe(`transit/${keyName}`);
  });
});

describe('EncryptingS3Client with VaultTransitKeyring on MinIO', () => {
  let plain: S3Client;
  beforeAll(() => {
    plain = s3Client(inject('s3'));
  });

  it('round-trips PutObject/GetObject and a 6 MiB lib-storage Upload (5 MiB parts, small last part)', async () => {
    const { keyring } = await freshKey();
    const client = new EncryptingS3Client({ client: plain, keyring });
    const bucket = await freshBucket(plain, 'vault');
    await expectS3RoundTrips(client, plain, bucket);
    // Only this Transit key opens it: a client holding another key refuses it before any Vault call.
    const other = new EncryptingS3Client({ client: plain, keyring: (await freshKey()).keyring });
    await expect(other.send(new GetObjectCommand({ Bucket: bucket, Key: 'round-trip/put' }))).rejects.toMatchObject({ code: 'ERR_KEY_NOT_ALLOWED' });
  });

  it('a soft-deleted key makes GetObject reject with a KmsError naming the key, and PutObject store nothing', async () => {
    const { keyName, keyring } = await freshKey();
    const client = new EncryptingS3Client({ client: plain, keyring });
    const bucket = await freshBucket(plain, 'vault');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'before', Body: 'secret' }));
    await bao.api('DELETE', `transit/keys/${keyName}/soft-delete`);

    const read = await kmsRejection(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'before' })));
    expect(read).toMatchObject({ code: 'ERR_KMS_KEY_DISABLED', keyId: `transit/${keyName}` });
    const write = await kmsRejection(client.send(new PutObjectCommand({ Bucket: bucket, Key: 'after', Body: 'secret' })));
    expect(write.code).toBe('ERR_KMS_KEY_DISABLED');
    const listed = await plain.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect((listed.Contents ?? []).map((o) => o.Key)).toEqual(['before']);
  });
});

// Last: stops the server the other tests share. Not run against VAULT_ADDR: it is not ours to stop.
describe('Vault stopped', () => {
  it.skipIf(existing !== undefined)('reads and writes fail with ERR_KMS_UNAVAILABLE, and PutObject leaves the bucket empty', async () => {
    const { keyName, keyring } = await freshKey();
    const plain = s3Client(inject('s3'));
    const client = new EncryptingS3Client({ client: plain, keyring });
    const bucket = await freshBucket(plain, 'vault');
    const { encryptedDataKeys } = await keyring.onEncrypt({ context });
    await bao.server!.stop();

    const read = await kmsRejection(keyring.onDecrypt({ context, encryptedDataKeys }));
    expect(read.code).toBe('ERR_KMS_UNAVAILABLE');
    expect(read.message).toMatch(new RegExp(`transit/${keyName}.*could not be reached.*ECONNREFUSED`));
    const write = await kmsRejection(client.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'secret' })));
    expect(write.code).toBe('ERR_KMS_UNAVAILABLE');
    const listed = await plain.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.KeyCount ?? 0).toBe(0);
  });
});
