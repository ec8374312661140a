// AwsKmsKeyring against moto's KMS server (PyPI `moto[server]`; AWS's own local-kms could not be
// installed), and through EncryptingS3Client on the test MinIO.
//
// What moto 5.2.5 enforces, and so is asserted here: the encryption context on Decrypt (a wrong or
// missing context fails with InvalidCiphertextException), tampered ciphertext, unknown keys and
// aliases (NotFoundException), the key ARN in every response, alias re-pointing.
//
// What moto does NOT enforce, so is covered by unit tests instead (packages/kms-aws/test):
// - Key state: after DisableKey or ScheduleKeyDeletion, moto still answers GenerateDataKey, Encrypt
//   and Decrypt. Real KMS answers DisabledException / KMSInvalidStateException; the unit tests send
//   those exact wire responses through the real KMSClient and check ERR_KMS_KEY_DISABLED on reads and
//   writes. The test below pins moto's behaviour, so it fails (and should be rewritten) once moto
//   starts enforcing key state.
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
  DisableKeyCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  UpdateAliasCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { EncryptingS3Client, objectEncryptionContext } from '@s3crypt/client';
import { AwsKmsKeyring } from '@s3crypt/kms-aws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kmsRejection, expectS3RoundTrips } from './harness/kms.js';
import { freshBucket, s3Client } from './harness/minio.js';
import { kmsClient, startMoto } from './harness/moto.js';
import type { RunningServer } from './harness/process.js';

let server: RunningServer;
let kms: KMSClient;
let aliasCounter = 0;

beforeAll(async () => {
  const moto = await startMoto();
  server = moto.server;
  kms = kmsClient(moto.endpoint);
});

afterAll(async () => {
  kms?.destroy();
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
    const alias = `alias/s3crypt-${++aliasCounter}`;
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
    const alias = `alias/s3crypt-${++aliasCounter}`;
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

  it('moto does not enforce DisableKey or ScheduleKeyDeletion (see the header: unit-tested instead)', async () => {
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

    // Only this KMS key opens it: a client holding another key finds no key of its own.
    const other = new EncryptingS3Client({ client: plain, keyring: new AwsKmsKeyring({ keyId: (await freshKey()).arn, client: kms }) });
    await expect(other.send(new GetObjectCommand({ Bucket: bucket, Key: 'round-trip/put' }))).rejects.toMatchObject({ code: 'ERR_NO_MATCHING_KEY' });
  });
});

// Last: stops the server the other tests share.
describe('KMS stopped', () => {
  it('reads and writes fail with ERR_KMS_UNAVAILABLE, and PutObject leaves the bucket empty', async () => {
    const { arn } = await freshKey();
    const keyring = new AwsKmsKeyring({ keyId: arn, client: kms });
    const plain = s3Client(inject('s3'));
    const client = new EncryptingS3Client({ client: plain, keyring });
    const bucket = await freshBucket(plain, 'awskms');
    const { encryptedDataKeys } = await keyring.onEncrypt({ context });
    await server.stop();

    const read = await kmsRejection(keyring.onDecrypt({ context, encryptedDataKeys }));
    expect(read.code).toBe('ERR_KMS_UNAVAILABLE');
    expect(read.message).toMatch(new RegExp(`${arn}.*could not be reached.*ECONNREFUSED`));
    const write = await kmsRejection(client.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'secret' })));
    expect(write.code).toBe('ERR_KMS_UNAVAILABLE');
    const listed = await plain.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.KeyCount ?? 0).toBe(0);
  });
});
