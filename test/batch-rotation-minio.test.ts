// The S3 Batch Operations rotation handler (@s3crypt/batch-rotation), invoked with events in the
// exact invocation schema 2.0 built from a CSV manifest, against the real MinIO, with data keys
// wrapped by OpenBao Transit and re-wrapped under a key of the AWS KMS server (moto). No AWS account
// is reachable here: Batch Operations itself is played by this file (one task per invocation, as it
// sends them). Throttling comes from a KMS endpoint that answers every call with KMS's own
// ThrottlingException (protocol level, driven by the real AWS SDK KMS client).
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { EncryptingS3Client, MultiKeyring, RawAesKeyring, type Keyring } from '@s3crypt/client';
import { AwsKmsKeyring } from '@s3crypt/kms-aws';
import { VaultTransitKeyring } from '@s3crypt/kms-vault';
import { batchEvent, createBatchRotationHandler, tasksFromCsvManifest } from '@s3crypt/batch-rotation';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getBody } from './harness/clients.js';
import { freshBucket, s3Client } from './harness/minio.js';
import { kmsClient, motoFromEnvOrStarted } from './harness/moto.js';
import { openBaoWithTransit, type OpenBao } from './harness/openbao.js';
import { listenOnLoopback, type RunningServer } from './harness/process.js';

let plain: S3Client;
let bao: OpenBao;
let moto: RunningServer | undefined;
let kms: KMSClient;
let throttling: Server;
let throttlingEndpoint: string;
const runId = `${process.pid}-${Date.now().toString(36)}`;

beforeAll(async () => {
  plain = s3Client(inject('s3'));
  bao = await openBaoWithTransit();
  const started = await motoFromEnvOrStarted();
  moto = started.server;
  const { endpoint } = started;
  kms = kmsClient(endpoint);
  // KMS's wire answer when a caller exceeds its request quota.
  throttling = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'throttled' });
      res.end(JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }));
    });
  });
  throttlingEndpoint = `http://127.0.0.1:${await listenOnLoopback(throttling)}`;
});

afterAll(async () => {
  kms?.destroy();
  await new Promise((resolve) => throttling?.close(resolve));
  await moto?.stop();
  await bao?.server?.stop();
});

async function transitKeyring(): Promise<VaultTransitKeyring> {
  const keyName = `batch-${runId}`;
  await bao.api('POST', `transit/keys/${keyName}`, { type: 'aes256-gcm96' });
  return new VaultTransitKeyring({ keyName, endpoint: bao.endpoint, token: bao.rootToken });
}

describe('createBatchRotationHandler', () => {
  it('rotates the objects of a CSV manifest, task by task, and answers in schema 2.0', { timeout: 120_000 }, async () => {
    const bucket = await freshBucket(plain, 'batch');
    const old = await transitKeyring();
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 's3crypt batch rotation test' }));
    const target = new AwsKmsKeyring({ keyId: KeyMetadata!.Arn!, client: kms });
    const writer = new EncryptingS3Client({ client: plain, keyring: old });
    const keys = ['reports/2026 Q1.csv', 'reports/b+c.json', 'ünïcode/ß.txt'];
    for (const key of keys) await writer.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `content of ${key}` }));
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'legacy.txt', Body: 'plaintext' }));
    // A manifest as S3 Inventory writes it: every field quoted, keys URL-encoded.
    const encode = (key: string) => encodeURIComponent(key).replace(/%2F/g, '/');
    const manifest = [...keys, 'gone.txt', 'legacy.txt'].map((key) => `"${bucket}","${encode(key)}"`).join('\n');
    const tasks = tasksFromCsvManifest(manifest);
    expect(tasks).toHaveLength(5);

    const client = new EncryptingS3Client({ client: plain, keyring: new MultiKeyring({ generator: target, children: [old] }) });
    const handler = createBatchRotationHandler({ client, rotation: { to: target } });

    const dry = await handler(batchEvent([tasks[0]!], { dryRun: 'true' }));
    expect(dry.results).toEqual([{ taskId: 'task-1', resultCode: 'Succeeded', resultString: 'would-rotate (rewrap)' }]);

    const responses = [];
    for (const task of tasks) responses.push(await handler(batchEvent([task])));
    for (const response of responses) expect(response).toMatchObject({ invocationSchemaVersion: '2.0', treatMissingKeysAs: 'PermanentFailure' });
    const results = responses.map((r) => r.results[0]!);
    expect(results.slice(0, 3).map((r) => r.resultCode)).toEqual(['Succeeded', 'Succeeded', 'Succeeded']);
    for (const r of results.slice(0, 3)) expect(r.resultString).toMatch(/^rotated \(rewrap\) objectId=/);
    expect(results[3]).toMatchObject({ taskId: 'task-4', resultCode: 'PermanentFailure', resultString: expect.stringContaining('NoSuchKey') });
    expect(results[4]).toMatchObject({ resultCode: 'Succeeded', resultString: 'skipped (not-encrypted)' });

    // Only the new KEK is needed now; a second job finds everything done.
    const onlyTarget = new EncryptingS3Client({ client: plain, keyring: target });
    for (const key of keys) expect((await getBody(onlyTarget, bucket, key)).toString()).toBe(`content of ${key}`);
    const again = await handler(batchEvent(tasks.slice(0, 3)));
    expect(again.results.map((r) => r.resultString)).toEqual(['skipped (already-rotated)', 'skipped (already-rotated)', 'skipped (already-rotated)']);

    // UserArguments may ask for a migration of plaintext objects.
    const migrated = await handler(batchEvent([tasks[4]!], { migratePlaintext: 'true' }));
    expect(migrated.results[0]).toMatchObject({ resultCode: 'Succeeded', resultString: expect.stringMatching(/^rotated \(migrate\)/) });
    expect((await getBody(onlyTarget, bucket, 'legacy.txt')).toString()).toBe('plaintext');
  });

  it('reports a KMS throttle as a TemporaryFailure and leaves the object as it was', { timeout: 60_000 }, async () => {
    const bucket = await freshBucket(plain, 'batch-throttle');
    const old = new RawAesKeyring({ keyName: 'old', masterKey: randomBytes(32) });
    await new EncryptingS3Client({ client: plain, keyring: old }).send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v' }));
    const before = await getBody(plain, bucket, 'k');
    const throttled = new KMSClient({ endpoint: throttlingEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' }, maxAttempts: 1 });
    const target = new AwsKmsKeyring({ keyId: 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000', client: throttled });
    const handler = createBatchRotationHandler({ client: new EncryptingS3Client({ client: plain, keyring: old }), rotation: { to: target } });
    const response = await handler(batchEvent([{ taskId: 't1', s3Bucket: bucket, s3Key: 'k', s3VersionId: null }]));
    expect(response.results).toEqual([{ taskId: 't1', resultCode: 'TemporaryFailure', resultString: expect.stringMatching(/^ERR_KMS_THROTTLED: /) }]);
    expect((await getBody(plain, bucket, 'k')).equals(before)).toBe(true);
    throttled.destroy();
  });

  it('gives up before the Lambda times out, as a TemporaryFailure', async () => {
    const bucket = await freshBucket(plain, 'batch-timeout');
    const old = new RawAesKeyring({ keyName: 'old', masterKey: randomBytes(32) });
    await new EncryptingS3Client({ client: plain, keyring: old }).send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v' }));
    const never = new RawAesKeyring({ keyName: 'new', masterKey: randomBytes(32) });
    // A KMS that never answers; like every s3crypt keyring, it gives up when the request's signal aborts.
    const slowTarget: Keyring = {
      kekMatchers: () => never.kekMatchers(),
      onDecrypt: (request) => never.onDecrypt(request),
      onEncrypt: ({ signal }) => new Promise<never>((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason as Error))),
    };
    const handler = createBatchRotationHandler({ client: new EncryptingS3Client({ client: plain, keyring: old }), rotation: { to: slowTarget }, reserveMs: 1000 });
    const response = await handler(batchEvent([{ taskId: 't1', s3Bucket: bucket, s3Key: 'k' }]), { getRemainingTimeInMillis: () => 1200 });
    expect(response.results[0]).toMatchObject({ resultCode: 'TemporaryFailure' });
    expect((await getBody(new EncryptingS3Client({ client: plain, keyring: old }), bucket, 'k')).toString()).toBe('v');
  });

  it('refuses events of another schema, and tasks without a usable bucket or key', async () => {
    const handler = createBatchRotationHandler({ client: new EncryptingS3Client({ client: plain, keyring: new RawAesKeyring({ keyName: 'k', masterKey: randomBytes(32) }) }), rotation: { to: new RawAesKeyring({ keyName: 'n', masterKey: randomBytes(32) }) } });
    await expect(handler({ invocationSchemaVersion: '3.0', invocationId: 'i', job: { id: 'j' }, tasks: [] })).rejects.toThrow(TypeError);
    const response = await handler(batchEvent([{ taskId: 't', s3Key: '%E0%A4%A', s3Bucket: 'b' }]));
    expect(response.results[0]).toMatchObject({ resultCode: 'PermanentFailure' });
    const v1 = await handler({ invocationSchemaVersion: '1.0', invocationId: 'i', job: { id: 'j' }, tasks: [{ taskId: 't', s3Key: 'k', s3BucketArn: 'not-an-arn' }] });
    expect(v1.results[0]).toMatchObject({ resultCode: 'PermanentFailure' });
    expect((await plain.send(new GetObjectCommand({ Bucket: 'nonexistent-bucket-for-sure', Key: 'k' })).catch((e: Error) => e.name))).toBe('NoSuchBucket');
  });
});
