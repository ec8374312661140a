// HierarchicalKeyring through EncryptingS3Client on MinIO, with its key store on MinIO too, and the
// branch keys protected by every KMS adapter: VaultTransitKeyring on OpenBao, AwsKmsKeyring on moto,
// AzureKeyVaultKeyring and GcpKmsKeyring against their protocol fakes. A counting wrapper around the
// protector proves the KMS is called once per branch key version per cache, not once per object.
// The branch-key creation race runs in two real child processes against the same MinIO bucket.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Agent } from 'node:https';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { KeyClient } from '@azure/keyvault-keys';
import * as grpc from '@grpc/grpc-js';
import { KeyManagementServiceClient } from '@google-cloud/kms';
import {
  EncryptingS3Client,
  RawAesKeyring,
  S3CryptError,
  type DecryptRequest,
  type EncryptRequest,
  type EncryptResult,
  type Keyring,
} from '@s3crypt/client';
import { BranchKeyStore, HierarchicalKeyring } from '@s3crypt/hierarchical-keyring';
import { AwsKmsKeyring } from '@s3crypt/kms-aws';
import { AzureKeyVaultKeyring } from '@s3crypt/kms-azure';
import { GcpKmsKeyring } from '@s3crypt/kms-gcp';
import { VaultTransitKeyring } from '@s3crypt/kms-vault';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getBody } from './harness/clients.js';
import { expectS3RoundTrips } from './harness/kms.js';
import { startFakeAzureKeyVault, type FakeAzureKeyVault } from './harness/fake-azure-key-vault.js';
import { startFakeGcpKms, type FakeGcpKms } from './harness/fake-gcp-kms.js';
import { freshBucket, s3Client } from './harness/minio.js';
import { kmsClient, motoFromEnvOrStarted } from './harness/moto.js';
import { openBaoWithTransit, type OpenBao } from './harness/openbao.js';
import type { RunningServer } from './harness/process.js';

/** Counts the protector's calls (every KMS request the hierarchy makes goes through it). */
class CountingKeyring implements Keyring {
  encrypts = 0;
  decrypts = 0;
  constructor(private readonly inner: Keyring) {}
  get calls(): number {
    return this.encrypts + this.decrypts;
  }
  onEncrypt(request: EncryptRequest): Promise<EncryptResult> {
    this.encrypts++;
    return this.inner.onEncrypt(request);
  }
  onDecrypt(request: DecryptRequest): Promise<Uint8Array | undefined> {
    this.decrypts++;
    return this.inner.onDecrypt(request);
  }
}

/** Records the key id of every data key a keyring wraps, to see which branch key version wrote an object. */
function recordingKeyIds(keyring: HierarchicalKeyring): { keyring: Keyring; keyIds: string[] } {
  const keyIds: string[] = [];
  return {
    keyIds,
    keyring: {
      onEncrypt: async (request) => {
        const result = await keyring.onEncrypt(request);
        keyIds.push(...result.encryptedDataKeys.map((edk) => edk.keyId));
        return result;
      },
      onDecrypt: (request) => keyring.onDecrypt(request),
      kekMatchers: () => keyring.kekMatchers(),
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<S3CryptError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(S3CryptError);
  return error as S3CryptError;
}

const runId = `${process.pid}-${Date.now().toString(36)}`;
let plain: S3Client;
let bao: OpenBao;
let moto: { endpoint: string; server?: RunningServer };
let kms: KMSClient;
let azure: FakeAzureKeyVault;
let azureAgent: Agent;
let gcp: FakeGcpKms;
let gcpClient: KeyManagementServiceClient;

beforeAll(async () => {
  plain = s3Client(inject('s3'));
  bao = await openBaoWithTransit();
  moto = await motoFromEnvOrStarted();
  kms = kmsClient(moto.endpoint);
  azure = await startFakeAzureKeyVault();
  azureAgent = new Agent({ ca: azure.ca, keepAlive: true });
  gcp = await startFakeGcpKms();
  // universeDomain keeps google-auth-library from probing the GCE metadata server for credentials.
  gcpClient = new KeyManagementServiceClient({ apiEndpoint: '127.0.0.1', port: gcp.port, sslCreds: grpc.credentials.createInsecure(), universeDomain: 'googleapis.com' });
  await gcpClient.createKeyRing({ parent: 'projects/s3crypt-test/locations/global', keyRingId: 'hierarchy' });
});

afterAll(async () => {
  kms?.destroy();
  azureAgent?.destroy();
  await gcpClient?.close();
  await gcp?.stop();
  await azure?.stop();
  await moto?.server?.stop();
  await bao?.server?.stop();
});

let transitKeys = 0;
let lastTransitKey = '';
async function vaultProtector(): Promise<VaultTransitKeyring> {
  const keyName = `hierarchy-${runId}-${++transitKeys}`;
  await bao.api('POST', `transit/keys/${keyName}`, { type: 'aes256-gcm96' });
  lastTransitKey = keyName;
  return new VaultTransitKeyring({ keyName, endpoint: bao.endpoint, token: bao.rootToken });
}

async function awsProtector(): Promise<AwsKmsKeyring> {
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 's3crypt hierarchical keyring test' }));
  return new AwsKmsKeyring({ keyId: KeyMetadata!.Arn!, client: kms });
}

const azureCredential: TokenCredential = { getToken: async (): Promise<AccessToken> => ({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };
async function azureProtector(): Promise<AzureKeyVaultKeyring> {
  const clientOptions = { serviceVersion: '7.6' as const, disableChallengeResourceVerification: true, agent: azureAgent, retryOptions: { maxRetries: 1, retryDelayInMs: 50, maxRetryDelayInMs: 100 } };
  // A256KW on a Managed HSM style AES key: a public (RSA) key would let anyone who can write the
  // key store plant a branch key (see the package README).
  const key = await new KeyClient(azure.vaultUrl, azureCredential, clientOptions).createKey(`hierarchy-${++transitKeys}`, 'oct-HSM', { keySize: 256 });
  return new AzureKeyVaultKeyring({ keyId: key.id!, credential: azureCredential, clientOptions, algorithm: 'A256KW' });
}

async function gcpProtector(): Promise<GcpKmsKeyring> {
  const [key] = await gcpClient.createCryptoKey({ parent: 'projects/s3crypt-test/locations/global/keyRings/hierarchy', cryptoKeyId: `hierarchy-${++transitKeys}`, cryptoKey: { purpose: 'ENCRYPT_DECRYPT' } });
  return new GcpKmsKeyring({ keyName: key.name!, client: gcpClient });
}

/** A key store bucket with branch key `orders`, an object bucket, and a client writing through the hierarchy. */
async function hierarchy(protector: Keyring, cacheTtlMs = 60_000) {
  const counting = new CountingKeyring(protector);
  const keyStoreBucket = await freshBucket(plain, 'keystore');
  const keyStore = new BranchKeyStore({ client: plain, bucket: keyStoreBucket, name: 'integration', protector: counting });
  expect(await keyStore.createBranchKey('orders')).toEqual({ branchKeyId: 'orders', version: 1, created: true });
  const keyringFor = () => new HierarchicalKeyring({ keyStore, branchKeyId: 'orders', cacheTtlMs });
  const keyring = keyringFor();
  const client = new EncryptingS3Client({ client: plain, keyring });
  const bucket = await freshBucket(plain);
  return { counting, keyStore, keyStoreBucket, keyringFor, keyring, client, bucket };
}

describe('HierarchicalKeyring on MinIO, with each KMS as the protector', () => {
  const protectors: [string, () => Promise<Keyring>][] = [
    ['Vault Transit on OpenBao', vaultProtector],
    ['AWS KMS on moto', awsProtector],
    ['Azure Key Vault (HTTPS fake, A256KW)', azureProtector],
    ['Cloud KMS (gRPC fake)', gcpProtector],
  ];
  for (const [name, protector] of protectors) {
    it(`round-trips PutObject and a multipart Upload, the branch key protected by ${name}`, async () => {
      const { client, bucket, counting, keyStoreBucket } = await hierarchy(await protector());
      await expectS3RoundTrips(client, plain, bucket);
      expect(counting.encrypts).toBe(1); // the branch key's creation
      expect(counting.decrypts).toBe(1); // its one load, for every object written and read
      // The stored branch key holds no secret in the clear: it is the protector's wrapped key.
      const listed = await plain.send(new ListObjectsV2Command({ Bucket: keyStoreBucket }));
      expect(listed.Contents?.map((c) => c.Key)).toEqual(['branch-keys/orders/2147483646-v1']);
    });
  }

  it('200 PUTs and 200 GETs of 4 KiB objects cost one protector call each with a warm cache (OpenBao)', async () => {
    const { client, bucket, counting, keyringFor } = await hierarchy(await vaultProtector());
    const body = randomBytes(4096);
    const before = counting.calls;
    // The first 20 concurrently: cold cache, concurrent misses coalesce into one load.
    await Promise.all(Array.from({ length: 20 }, (_, i) => client.send(new PutObjectCommand({ Bucket: bucket, Key: `o/${i}`, Body: body }))));
    for (let i = 20; i < 200; i++) await client.send(new PutObjectCommand({ Bucket: bucket, Key: `o/${i}`, Body: body }));
    expect(counting.calls - before).toBe(1);

    const reader = new EncryptingS3Client({ client: plain, keyring: keyringFor() });
    const readsBefore = counting.calls;
    await Promise.all(Array.from({ length: 20 }, async (_, i) => expect((await getBody(reader, bucket, `o/${i}`)).equals(body)).toBe(true)));
    for (let i = 20; i < 200; i++) expect((await getBody(reader, bucket, `o/${i}`)).equals(body)).toBe(true);
    expect(counting.calls - readsBefore).toBe(1);
  });

  it('after a rotation new objects use the new version and old objects stay readable (AWS KMS)', async () => {
    const { keyStore, keyringFor, bucket, counting } = await hierarchy(await awsProtector());
    const writerKeyring = keyringFor();
    const writer = recordingKeyIds(writerKeyring);
    const client = new EncryptingS3Client({ client: plain, keyring: writer.keyring });
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'before', Body: 'written under v1' }));
    expect(await keyStore.rotateBranchKey('orders')).toEqual({ branchKeyId: 'orders', version: 2 });
    // A live writer moves on when its cache TTL ends; flush() makes it now.
    writerKeyring.flush();
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'after', Body: 'written under v2' }));
    expect(writer.keyIds).toEqual(['orders:v1', 'orders:v2']);

    const reader = new EncryptingS3Client({ client: plain, keyring: keyringFor() });
    const decrypts = counting.decrypts;
    expect((await getBody(reader, bucket, 'before')).toString()).toBe('written under v1');
    expect((await getBody(reader, bucket, 'after')).toString()).toBe('written under v2');
    expect(counting.decrypts - decrypts).toBe(2); // one load per version
  });

  it('a replaced, edited or deleted branch key object fails closed with a typed error (OpenBao)', async () => {
    const { keyStore, keyStoreBucket, client, bucket, keyringFor } = await hierarchy(await vaultProtector());
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'victim', Body: 'secret' }));
    await keyStore.rotateBranchKey('orders');
    const v1 = 'branch-keys/orders/2147483646-v1';
    const v2Text = (await getBody(plain, keyStoreBucket, 'branch-keys/orders/2147483645-v2')).toString();
    const original = (await getBody(plain, keyStoreBucket, v1)).toString();
    const readVictim = () => new EncryptingS3Client({ client: plain, keyring: keyringFor() }).send(new GetObjectCommand({ Bucket: bucket, Key: 'victim' }));

    for (const replacement of [
      v2Text.replace('"version":2', '"version":1'), // another version's key, relabelled
      original.replace(/"createdAt":"\d{4}/, '"createdAt":"1999'), // an unbound-looking field, edited
    ]) {
      await plain.send(new PutObjectCommand({ Bucket: keyStoreBucket, Key: v1, Body: replacement }));
      const error = await rejection(readVictim());
      expect(error.code).toBe('ERR_BRANCH_KEY_INVALID');
      expect(error.message).toContain('orders version 1');
    }
    await plain.send(new DeleteObjectCommand({ Bucket: keyStoreBucket, Key: v1 }));
    expect((await rejection(readVictim())).code).toBe('ERR_BRANCH_KEY_NOT_FOUND');
    await plain.send(new PutObjectCommand({ Bucket: keyStoreBucket, Key: v1, Body: original }));
    expect((await getBody(new EncryptingS3Client({ client: plain, keyring: keyringFor() }), bucket, 'victim')).toString()).toBe('secret');
  });
});

describe('crypto-shredding through the protector (OpenBao)', () => {
  it('a soft-deleted Transit key stops reads once the cache TTL is over, or at once after flush()', async () => {
    const shortLived = await hierarchy(await vaultProtector(), 1);
    const keyName = lastTransitKey;
    const warm = await hierarchy(await vaultProtector());
    const warmKey = lastTransitKey;
    for (const h of [shortLived, warm]) await h.client.send(new PutObjectCommand({ Bucket: h.bucket, Key: 'doomed', Body: 'shred me' }));
    await bao.api('DELETE', `transit/keys/${keyName}/soft-delete`);
    await bao.api('DELETE', `transit/keys/${warmKey}/soft-delete`);

    // TTL 1 ms: by the next read the cached branch key has expired, and the protector refuses it.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const expired = await rejection(shortLived.client.send(new GetObjectCommand({ Bucket: shortLived.bucket, Key: 'doomed' })));
    expect(expired.code).toBe('ERR_KMS_KEY_DISABLED');

    // TTL one minute: the warm cache still reads (the documented trade-off) until flush().
    expect((await getBody(warm.client, warm.bucket, 'doomed')).toString()).toBe('shred me');
    warm.keyring.flush();
    expect((await rejection(warm.client.send(new GetObjectCommand({ Bucket: warm.bucket, Key: 'doomed' })))).code).toBe('ERR_KMS_KEY_DISABLED');
    // Writes fail too: the branch key cannot be unwrapped, so nothing is stored.
    expect((await rejection(warm.client.send(new PutObjectCommand({ Bucket: warm.bucket, Key: 'new', Body: 'x' })))).code).toBe('ERR_KMS_KEY_DISABLED');
  });
});

describe('branch key creation race between two processes', () => {
  const script = fileURLToPath(new URL('./harness/branch-key-race.ts', import.meta.url));
  const tsconfig = fileURLToPath(new URL('./harness/tsconfig.sources.json', import.meta.url));

  /** A child speaking one JSON line per message; `next()` resolves its next line. */
  function child(env: Record<string, string>): { process: ChildProcessWithoutNullStreams; next: () => Promise<Record<string, unknown>>; say: (line: string) => void } {
    const proc = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, ...env, TSX_TSCONFIG_PATH: tsconfig, NODE_NO_WARNINGS: '1' } });
    let stderr = '';
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
    return {
      process: proc,
      next: async () => {
        const { value, done } = await lines.next();
        if (done) throw new Error(`race child ${proc.pid} ended early: ${stderr}`);
        return JSON.parse(value as string) as Record<string, unknown>;
      },
      say: (line) => proc.stdin.write(`${line}\n`),
    };
  }

  it('exactly one key per version number, and both processes end up on the same active version', async () => {
    const keyStoreBucket = await freshBucket(plain, 'race');
    const masterKey = randomBytes(32);
    const rotations = 6;
    const env = { RACE_S3: JSON.stringify(inject('s3')), RACE_BUCKET: keyStoreBucket, RACE_BRANCH_KEY: 'shared', RACE_ROTATIONS: String(rotations), RACE_MASTER_KEY: masterKey.toString('hex') };
    const children = [child(env), child(env)];
    try {
      for (const c of children) expect(await c.next()).toHaveProperty('ready');
      for (const c of children) c.say('go'); // released together: they create and rotate concurrently
      const reports = (await Promise.all(children.map((c) => c.next()))) as { created: boolean; versions: Record<string, string> }[];

      // Exactly one process created the branch key; together they created 1 + 2 × rotations
      // versions, each number claimed by exactly one of them.
      expect(reports.filter((r) => r.created)).toHaveLength(1);
      const claimed = reports.flatMap((r) => Object.keys(r.versions).map(Number));
      expect(claimed.sort((a, b) => a - b)).toEqual(Array.from({ length: 1 + 2 * rotations }, (_, i) => i + 1));

      // What is stored under each number is exactly what its claimant wrote: nobody overwrote it.
      const listed = await plain.send(new ListObjectsV2Command({ Bucket: keyStoreBucket }));
      expect(listed.Contents).toHaveLength(1 + 2 * rotations);
      for (const report of reports) {
        for (const [version, fingerprint] of Object.entries(report.versions)) {
          const key = `branch-keys/shared/${String(2147483647 - Number(version)).padStart(10, '0')}-v${version}`;
          const stored = JSON.parse((await getBody(plain, keyStoreBucket, key)).toString()) as { encryptedDataKeys: { ciphertext: string }[] };
          expect(createHash('sha256').update(Buffer.from(stored.encryptedDataKeys[0]!.ciphertext, 'base64')).digest('hex')).toBe(fingerprint);
        }
      }

      for (const c of children) c.say('encrypt');
      const used = await Promise.all(children.map((c) => c.next()));
      expect(used.map((u) => u.keyId)).toEqual([`shared:v${1 + 2 * rotations}`, `shared:v${1 + 2 * rotations}`]);

      // And a third process (this one) sees the same active version.
      const store = new BranchKeyStore({ client: plain, bucket: keyStoreBucket, name: 'race-store', protector: new RawAesKeyring({ keyName: 'race-protector', masterKey }) });
      expect(await store.activeVersion('shared')).toBe(1 + 2 * rotations);
    } finally {
      for (const c of children) {
        c.say('exit');
        c.process.stdin.end();
      }
      await Promise.all(children.map((c) => new Promise((resolve) => (c.process.exitCode !== null ? resolve(undefined) : c.process.once('exit', resolve)))));
    }
  });
});
