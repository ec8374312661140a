// One example per KMS adapter (examples/kms-*.ts), each against its test server: moto (AWS KMS),
// OpenBao (Transit), and the protocol-level fakes of Azure Key Vault and Cloud KMS driven by the real
// vendor clients.
import { Agent } from 'node:https';
import { generateKeyPairSync } from 'node:crypto';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { KeyClient, type CryptographyClientOptions } from '@azure/keyvault-keys';
import * as grpc from '@grpc/grpc-js';
import { KeyManagementServiceClient } from '@google-cloud/kms';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { runAwsKmsExample } from '../examples/kms-aws.js';
import { runAzureExample } from '../examples/kms-azure.js';
import { runGcpExample } from '../examples/kms-gcp.js';
import { runVaultExample } from '../examples/kms-vault.js';
import { getBody } from './harness/clients.js';
import { startFakeAzureKeyVault } from './harness/fake-azure-key-vault.js';
import { startFakeGcpKms } from './harness/fake-gcp-kms.js';
import { freshBucket, s3Client } from './harness/minio.js';
import { kmsClient, motoFromEnvOrStarted } from './harness/moto.js';
import { openBaoWithTransit } from './harness/openbao.js';

const CSV = 'region,total\neu,120\nus,80\n';

let s3: S3Client;
beforeAll(() => {
  s3 = s3Client(inject('s3'));
});

/** The object's envelope (its wrapped data keys name their KEK in clear) and whether the store holds plaintext. */
async function stored(bucket: string, key: string): Promise<{ envelope: Buffer; plaintextInStore: boolean }> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  const envelope = Buffer.from(head.Metadata?.['s3crypt-envelope'] ?? '', 'base64');
  return { envelope, plaintextInStore: (await getBody(s3, bucket, key)).includes('region,total') };
}

describe('examples/kms-*.ts', () => {
  it('AWS KMS (moto): round-trips, the envelope names the KMS key ARN', async () => {
    const moto = await motoFromEnvOrStarted();
    const kms = kmsClient(moto.endpoint);
    try {
      const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 's3crypt examples' }));
      const bucket = await freshBucket(s3, 'ex-kms-aws');
      const result = await runAwsKmsExample(s3, kms, { bucket, keyArn: KeyMetadata!.Arn! });
      expect(result).toEqual({ readBack: CSV, firstBytes: 'region' });
      const { envelope, plaintextInStore } = await stored(bucket, 'kms-aws/report.csv');
      expect(plaintextInStore).toBe(false);
      expect(envelope.includes('aws-kms')).toBe(true);
      expect(envelope.includes(KeyMetadata!.Arn!)).toBe(true);
    } finally {
      kms.destroy();
      await moto.server?.stop();
    }
  });

  it('Vault Transit (OpenBao): round-trips, the envelope holds a Transit ciphertext of the key', async () => {
    const bao = await openBaoWithTransit();
    try {
      const keyName = `s3crypt-examples-${process.pid}-${Date.now().toString(36)}`;
      await bao.api('POST', `transit/keys/${keyName}`, { type: 'aes256-gcm96' });
      const bucket = await freshBucket(s3, 'ex-kms-vault');
      const result = await runVaultExample(s3, { bucket, endpoint: bao.endpoint, token: bao.rootToken, keyName });
      expect(result).toEqual({ readBack: CSV, firstBytes: 'region' });
      const { envelope, plaintextInStore } = await stored(bucket, 'kms-vault/report.csv');
      expect(plaintextInStore).toBe(false);
      expect(envelope.includes(`transit/${keyName}`)).toBe(true);
      expect(envelope.includes('vault:v1:')).toBe(true);
    } finally {
      await bao.server?.stop();
    }
  });

  it('Azure Key Vault (HTTPS fake): round-trips a signed object, wrapping and unwrapping in the vault', async () => {
    const vault = await startFakeAzureKeyVault();
    const agent = new Agent({ ca: vault.ca, keepAlive: true });
    try {
      // The fake accepts any bearer token; the real vault would take DefaultAzureCredential's.
      const credential: TokenCredential = { getToken: async (): Promise<AccessToken> => ({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };
      const clientOptions: CryptographyClientOptions = { serviceVersion: '7.6', disableChallengeResourceVerification: true, agent, retryOptions: { maxRetries: 1 } };
      const key = await new KeyClient(vault.vaultUrl, credential, clientOptions).createKey('s3crypt-examples', 'RSA', { keySize: 2048 });
      const writer = generateKeyPairSync('ec', { namedCurve: 'P-384' });
      const bucket = await freshBucket(s3, 'ex-kms-azure');
      const keyId = `${vault.vaultUrl}/keys/s3crypt-examples`;
      const result = await runAzureExample(s3, { bucket, keyId, credential, clientOptions, signingKey: writer.privateKey, verificationKeys: [writer.publicKey] });
      expect(result).toEqual({ readBack: CSV, firstBytes: 'region' });
      expect(vault.calls.wrap).toBe(1);
      expect(vault.calls.unwrap).toBe(2); // one per GET
      const { envelope, plaintextInStore } = await stored(bucket, 'kms-azure/report.csv');
      expect(plaintextInStore).toBe(false);
      expect(envelope.includes(key.id!)).toBe(true); // the versioned key id
    } finally {
      agent.destroy();
      await vault.stop();
    }
  });

  it('Cloud KMS (gRPC fake): round-trips through the injected client', async () => {
    const fake = await startFakeGcpKms();
    // universeDomain keeps google-auth-library from probing the GCE metadata server for credentials.
    const client = new KeyManagementServiceClient({ apiEndpoint: '127.0.0.1', port: fake.port, sslCreds: grpc.credentials.createInsecure(), universeDomain: 'googleapis.com' });
    try {
      const parent = 'projects/s3crypt-examples/locations/global';
      await client.createKeyRing({ parent, keyRingId: 'ring' });
      const [cryptoKey] = await client.createCryptoKey({ parent: `${parent}/keyRings/ring`, cryptoKeyId: 'kek', cryptoKey: { purpose: 'ENCRYPT_DECRYPT' } });
      const bucket = await freshBucket(s3, 'ex-kms-gcp');
      const result = await runGcpExample(s3, { bucket, keyName: cryptoKey.name!, client });
      expect(result).toEqual({ readBack: CSV, firstBytes: 'region' });
      expect(fake.calls).toEqual({ encrypt: 1, decrypt: 2 });
      const { envelope, plaintextInStore } = await stored(bucket, 'kms-gcp/report.csv');
      expect(plaintextInStore).toBe(false);
      expect(envelope.includes(`${cryptoKey.name!}/cryptoKeyVersions/1`)).toBe(true);
    } finally {
      await client.close();
      await fake.stop();
    }
  });
});
