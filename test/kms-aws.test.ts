// AwsKmsKeyring against moto's KMS server (PyPI `moto[server]`; AWS's own local-kms could not be
// installed), and through EncryptingS3Client on the test MinIO.
//
// What moto 5.2.5 enforces, and so is asserted here: the encryption context on Decrypt (a wrong or
// missing context fails with InvalidCiphertextException), tampered ciphertext, unknown keys and
// aliases (NotFoundException), the key ARN in every response, alias re-pointing.
//
// Key state: after DisableKey or ScheduleKeyDeletion, moto still answers GenerateDataKey, Encrypt and
// Decrypt (a test below pins that, so it fails once moto starts enforcing key state). Real KMS answers
// DisabledException / KMSInvalidStateException. The crypto-shredding tests therefore send their KMS
// calls through test/harness/kms-key-state-proxy.ts, which refuses those three operations exactly as
// real KMS does when moto's own DescribeKey reports the key Disabled or PendingDeletion, and forwards
// everything else to moto. The unit tests (packages/kms-aws/test) check the same wire responses.
//
// What moto does NOT enforce, so is covered by unit tests instead (packages/kms-aws/test):
// - Key policies (moto only checks DescribeKey), so no ERR_KMS_ACCESS_DENIED from a policy here.
// - Decrypt with an explicit KeyId of another key: real KMS answers IncorrectKeyException, moto
//   AccessDeniedException. The keyring's use of IncorrectKeyException (skipping another key's
//   data key when configured with an alias) is unit-tested.
// - Rotation: moto records RotateKeyOnDemand but keeps the same key material. AWS KMS never exposes
//   backing-key versions in ciphertexts, so the envelope keeps naming the same key ARN either way.
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  UpdateAliasCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { EncryptingS3Client, objectEncryptionContext } from '@s3crypt/client';
import { AwsKmsKeyring } from '@s3crypt/kms-aws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectS3RoundTrips } from './harness/kms.js';
import { kmsRejection } from './harness/kms-rejection.js';
import { freshBucket, s3Client } from './harness/minio.js';
import { startKeyStateProxy, type KeyStateProxy } from './harness/kms-key-state-proxy.js';
import { kmsClient, kmsEndpointFromEnv, motoFromEnvOrStarted } from './harness/moto.js';
import type { RunningServer } from './harness/process.js';

// AWS_KMS_ENDPOINT: use that running server (e.g. a shared moto) instead of starting one.
const existingEndpoint = kmsEndpointFromEnv();
let server: RunningServer | undefined;
/** Straight to moto. */
let kms: KMSClient;
/** Through the key-state proxy, for the crypto-shredding tests. */
let enforcing: KMSClient;
let proxy: KeyStateProxy;
// Aliases are account-wide and outlive a run on a shared server: unique per run.
const runId = `${process.pid}-${Date.now().toString(36)}`;
let aliasCounter = 0;

beforeAll(async () => {
  const started = await motoFromEnvOrStarted();
  server = started.server;
  const { endpoint } = started;
  kms = kmsClient(endpoint);
  proxy = await startKeyStateProxy(endpoint);
  enforcing = kmsClient(proxy.endpoint);
});

afterAll(async () => {
  kms?.destroy();
  enforcing?.destroy();
  await proxy?.close();
  await server?.stop();
});

async function freshKey(): Promise<{ keyId: string; arn: string }> {
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 's3crypt test' }));
  return { keyId: KeyMetadata!.KeyId!, arn: KeyMetadata!.Arn! };
}


const context = objectEncryptionContext('bucket', 'object');

describe('AwsKmsKeyring on moto', () => {
  it('round-trips through a key id, its ARN and an alias, recording the key ARN', async () => {
    const { keyId, arn } = await freshKey();
    const alias = `alias/s3crypt-${runId}-${++aliasCounter}`;
    await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
    for (const configured of [keyId, arn, alias]) {
      const keyring = new AwsKmsKeyring({ keyId: configured, client: kms });
      const generated = await keyring.onEncrypt({ context });
      expect(generated.encryptedDataKeys).toEqual([expect.objectContaining({ providerId: 'aws-kms', keyId: arn })]);
      expect(await keyring.onDecrypt({ context, encryptedDataKeys: generated.encryptedDataKeys })).toEqual(generated.dataKey);

      const dataKey = new Uint8Array(32).fill(aliasCounter);
      const wrapped = await keyring.onEncrypt({ context, dataKey });
      expect(wrapped.encryptedDataKeys[0]?.keyId).toBe(arn);
      expect(await keyring.onDecrypt({ context, encryptedDataKeys: wrapped.encryptedDataKeys })).toEqual(dataKey);
    }
  });

  it('another key ARN does not claim the data key', async () => {
    const mine = await freshKey();
    const other = await freshKey();
    const { encryptedDataKeys } = await new AwsKmsKeyring({ keyId: mine.arn, client: kms }).onEncrypt({ context });
    expect(await new AwsKmsKeyring({ keyId: other.arn, client: kms }).onDecrypt({ context, encryptedDataKeys })).toBeUndefined();
  });

  it('a different encryption context fails with ERR_KMS_WRONG_KEY naming the key', async () => {
    const { arn } = await freshKey();
    const keyring = new AwsKmsKeyring({ keyId: arn, client: kms });
    const { encryptedDataKeys } = await keyring.onEncrypt({ context });
    for (const wrong of [objectEncryptionContext('bucket', 'other-object'), {}]) {
      const error = await kmsRejection(keyring.onDecrypt({ context: wrong, encryptedDataKeys }));
      expect(error.code).toBe('ERR_KMS_WRONG_KEY');
      expect(error.keyId).toBe(arn);
      expect(error.message).toContain(arn);
      expect((error.cause as Error).name).toBe('InvalidCiphertextException');
    }
  });

  it('tampered ciphertext fails with ERR_KMS_WRONG_KEY', async () => {
    const { arn } = await freshKey();
    const keyring = new AwsKmsKeyring({ keyId: arn, client: kms });
    const [edk] = (await keyring.onEncrypt({ context })).encryptedDataKeys;
    const ciphertext = new Uint8Array(edk!.ciphertext);
    ciphertext[ciphertext.length - 1]! ^= 1;
    const error = await kmsRejection(keyring.onDecrypt({ context, encryptedDataKeys: [{ ...edk!, ciphertext }] }));
    expect(error.code).toBe('ERR_KMS_WRONG_KEY');
  });

  it('an unknown key or alias fails writes with ERR_KMS_KEY_NOT_FOUND', async () => {
    for (const keyId of ['alias/does-not-exist', '11111111-2222-3333-4444-555555555555']) {
      const error = await kmsRejection(new AwsKmsKeyring({ keyId, client: kms }).onEncrypt({ context }));
      expect(error.code).toBe('ERR_KMS_KEY_NOT_FOUND');
      expect(error.keyId).toBe(keyId);
    }
  });

  it('after rotation old data keys stay readable; re-pointing an alias makes new envelopes name the new key', async () => {
    const first = await freshKey();
    const alias = `alias/s3crypt-${runId}-${++aliasCounter}`;
    await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: first.keyId }));
    const byAlias = new AwsKmsKeyring({ keyId: alias, client: kms });
    const before = await byAlias.onEncrypt({ context });

    await kms.send(new RotateKeyOnDemandCommand({ KeyId: first.keyId }));
    const afterRotation = await byAlias.onEncrypt({ context });
    expect(afterRotation.encryptedDataKeys[0]?.keyId).toBe(first.arn);
    expect(await byAlias.onDecrypt({ context, encryptedDataKeys: before.encryptedDataKeys })).toEqual(before.dataKey);

    const second = await freshKey();
    await kms.send(new UpdateAliasCommand({ AliasName: alias, TargetKeyId: second.keyId }));
    const afterRepoint = await byAlias.onEncrypt({ context });
    expect(afterRepoint.encryptedDataKeys[0]?.keyId).toBe(second.arn);
    expect(await byAlias.onDecrypt({ context, encryptedDataKeys: afterRepoint.encryptedDataKeys })).toEqual(afterRepoint.dataKey);
    // Objects written before the re-pointing are read with a keyring for the old key's ARN.
    const old = new AwsKmsKeyring({ keyId: first.arn, client: kms });
    expect(await old.onDecrypt({ context, encryptedDataKeys: before.encryptedDataKeys })).toEqual(before.dataKey);
  });

  it('moto alone does not enforce DisableKey or ScheduleKeyDeletion (see the header: hence the key-state proxy)', async () => {
    for (const disable of [
      (keyId: string) => kms.send(new DisableKeyCommand({ KeyId: keyId })),
      (keyId: string) => kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 })),
    ]) {
      const { keyId, arn } = await freshKey();
      const keyring = new AwsKmsKeyring({ keyId: arn, client: kms });
      const before = await keyring.onEncrypt({ context });
      await disable(keyId);
      // Real AWS KMS rejects both calls (DisabledException / KMSInvalidStateException).
      expect(await keyring.onDecrypt({ context, encryptedDataKeys: before.encryptedDataKeys })).toEqual(before.dataKey);
      await expect(keyring.onEncrypt({ context })).resolves.toBeDefined();
    }
  });
});

describe('EncryptingS3Client with AwsKmsKeyring on MinIO', () => {
  let plain: S3Client;
  beforeAll(() => {
    plain = s3Client(inject('s3'));
  });

  it('round-trips PutObject/GetObject and a 6 MiB lib-storage Upload (5 MiB parts, small last part)', async () => {
    const { arn } = await freshKey();
    const client = new EncryptingS3Client({ client: plain, keyring: new AwsKmsKeyring({ keyId: arn, client: kms }) });
    const bucket = await freshBucket(plain, 'awskms');
    await expectS3RoundTrips(client, plain, bucket);

    // Only this KMS key opens it: a client holding another key refuses it before any KMS call.
    const other = new EncryptingS3Client({ client: plain, keyring: new AwsKmsKeyring({ keyId: (await freshKey()).arn, client: kms }) });
    await expect(other.send(new GetObjectCommand({ Bucket: bucket, Key: 'round-trip/put' }))).rejects.toMatchObject({ code: 'ERR_KEY_NOT_ALLOWED' });
  });
});

describe('crypto-shredding through EncryptingS3Client on MinIO (moto behind the key-state proxy)', () => {
  it('a disabled key makes GetObject reject naming the key and PutObject store nothing; enabled again, reads work', async () => {
    const { keyId, arn } = await freshKey();
    const plain = s3Client(inject('s3'));
    const client = new EncryptingS3Client({ client: plain, keyring: new AwsKmsKeyring({ keyId: arn, client: enforcing }) });
    const bucket = await freshBucket(plain, 'awskms');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'before', Body: 'secret' }));

    await enforcing.send(new DisableKeyCommand({ KeyId: keyId }));
    const read = await kmsRejection(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'before' })));
    expect(read).toMatchObject({ code: 'ERR_KMS_KEY_DISABLED', keyId: arn });
    expect(read.message).toContain(arn);
    expect((read.cause as Error).name).toBe('DisabledException');
    const write = await kmsRejection(client.send(new PutObjectCommand({ Bucket: bucket, Key: 'after', Body: 'secret' })));
    expect(write).toMatchObject({ code: 'ERR_KMS_KEY_DISABLED', keyId: arn });
    const listed = await plain.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect((listed.Contents ?? []).map((o) => o.Key)).toEqual(['before']);

    await enforcing.send(new EnableKeyCommand({ KeyId: keyId }));
    const again = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'before' }));
    expect(await again.Body!.transformToString()).toBe('secret');
  });

  it('a key pending deletion fails reads with ERR_KMS_KEY_DISABLED and writes closed', async () => {
    const { keyId, arn } = await freshKey();
    const plain = s3Client(inject('s3'));
    const client = new EncryptingS3Client({ client: plain, keyring: new AwsKmsKeyring({ keyId: arn, client: enforcing }) });
    const bucket = await freshBucket(plain, 'awskms');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'before', Body: 'secret' }));

    await enforcing.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    const read = await kmsRejection(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'before' })));
    expect(read).toMatchObject({ code: 'ERR_KMS_KEY_DISABLED', keyId: arn });
    expect((read.cause as Error).name).toBe('KMSInvalidStateException');
    expect(read.message).toContain(arn);
    const write = await kmsRejection(client.send(new PutObjectCommand({ Bucket: bucket, Key: 'after', Body: 'secret' })));
    expect(write).toMatchObject({ code: 'ERR_KMS_KEY_DISABLED', keyId: arn });
    const listed = await plain.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect((listed.Contents ?? []).map((o) => o.Key)).toEqual(['before']);
  });

  it('a keyring configured with an alias is refused the same way (the proxy resolves the alias)', async () => {
    const { keyId } = await freshKey();
    const alias = `alias/s3crypt-${runId}-${++aliasCounter}`;
    await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
    const keyring = new AwsKmsKeyring({ keyId: alias, client: enforcing });
    const before = await keyring.onEncrypt({ context });
    await enforcing.send(new DisableKeyCommand({ KeyId: keyId }));
    for (const attempt of [
      () => keyring.onDecrypt({ context, encryptedDataKeys: before.encryptedDataKeys }),
      () => keyring.onEncrypt({ context }),
      () => keyring.onEncrypt({ context, dataKey: new Uint8Array(32) }),
    ]) {
      expect((await kmsRejection(attempt())).code).toBe('ERR_KMS_KEY_DISABLED');
    }
  });

  it('the proxy also refuses a Decrypt that names no KeyId, once moto names the disabled key', async () => {
    const { keyId, arn } = await freshKey();
    const [edk] = (await new AwsKmsKeyring({ keyId: arn, client: enforcing }).onEncrypt({ context })).encryptedDataKeys;
    const decrypt = new DecryptCommand({ CiphertextBlob: edk!.ciphertext, EncryptionContext: context });
    expect((await enforcing.send(decrypt)).KeyId).toBe(arn);
    await enforcing.send(new DisableKeyCommand({ KeyId: keyId }));
    await expect(enforcing.send(decrypt)).rejects.toMatchObject({ name: 'DisabledException', message: `${arn} is disabled.` });
  });
});

// Last: stops the server the other tests share. Not run against AWS_KMS_ENDPOINT: it is not ours to stop.
describe('KMS stopped', () => {
  it.skipIf(existingEndpoint !== undefined)('reads and writes fail with ERR_KMS_UNAVAILABLE, and PutObject leaves the bucket empty', async () => {
    const { arn } = await freshKey();
    const keyring = new AwsKmsKeyring({ keyId: arn, client: kms });
    const plain = s3Client(inject('s3'));
    const client = new EncryptingS3Client({ client: plain, keyring });
    const bucket = await freshBucket(plain, 'awskms');
    const { encryptedDataKeys } = await keyring.onEncrypt({ context });
    await server!.stop();

    const read = await kmsRejection(keyring.onDecrypt({ context, encryptedDataKeys }));
    expect(read.code).toBe('ERR_KMS_UNAVAILABLE');
    expect(read.message).toMatch(new RegExp(`${arn}.*could not be reached.*ECONNREFUSED`));
    const write = await kmsRejection(client.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'secret' })));
    expect(write.code).toBe('ERR_KMS_UNAVAILABLE');
    const listed = await plain.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.KeyCount ?? 0).toBe(0);
  });
});
