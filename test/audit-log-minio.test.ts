// The tamper-evident audit log with bucket storage on a real MinIO: sealed segments are stored as
// objects through EncryptingS3Client (encrypted at rest), the chain continues across objects and
// across restarts, and the verifier reads the objects back (decrypting them) with the public key.
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EncryptingS3Client } from '@s3crypt/client';
import type { S3Client } from '@aws-sdk/client-s3';
import { TamperEvidentLog, verifyAuditLog } from '@s3crypt/audit';
import { testClients } from './harness/clients.js';

let plain: S3Client;
let encrypting: EncryptingS3Client;
let bucket: string;
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const event = (n: number) => ({ schema: 1, time: new Date().toISOString(), operation: 'unwrap', outcome: 'success', key: `secret-object-name-${n}` }) as const;

beforeAll(async () => {
  ({ plain, encrypting, bucket } = await testClients());
});

async function objectNames(prefix: string): Promise<string[]> {
  const listing = await plain.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (listing.Contents ?? []).map((object) => object.Key!).sort();
}

describe('TamperEvidentLog with bucket storage (MinIO, EncryptingS3Client)', () => {
  it('stores rotated segments as encrypted objects, continues the chain across objects and restarts, and verifies from the bucket', async () => {
    const directory = mkdtempSync(join(tmpdir(), 's3crypt-audit-minio-'));
    const location = { client: encrypting, bucket, prefix: 'audit/app-1/' };
    const log = await TamperEvidentLog.open({ directory, signingKey: privateKey, bucket: location, maxSegmentBytes: 1500 });
    for (let n = 0; n < 20; n++) await log.write(event(n));
    await log.close();
    const reopened = await TamperEvidentLog.open({ directory: mkdtempSync(join(tmpdir(), 's3crypt-audit-minio-')), signingKey: privateKey, bucket: location, maxSegmentBytes: 1500 });
    for (let n = 20; n < 25; n++) await reopened.write(event(n));
    await reopened.close();

    const keys = await objectNames('audit/app-1/');
    expect(keys.length).toBeGreaterThan(3);
    expect(readdirSync(directory)).toEqual([]);
    const stored = Buffer.from(await (await plain.send(new GetObjectCommand({ Bucket: bucket, Key: keys[0]! }))).Body!.transformToByteArray());
    expect(stored.includes(Buffer.from('secret-object-name'))).toBe(false);

    const report = await verifyAuditLog({ s3: location, publicKey });
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ ok: true, events: 25 });
  });

  it('keeps the open segment local until rotation: bucket and directory together verify, and a replaced object is reported', async () => {
    const directory = mkdtempSync(join(tmpdir(), 's3crypt-audit-minio-'));
    const location = { client: encrypting, bucket, prefix: 'audit/app-2/' };
    const log = await TamperEvidentLog.open({ directory, signingKey: privateKey, bucket: location, maxSegmentBytes: 1500 });
    for (let n = 0; n < 20; n++) await log.write(event(n));
    expect(readdirSync(directory).length).toBeGreaterThanOrEqual(1);
    expect(await verifyAuditLog({ s3: location, directory, publicKey, allowUnsealedTail: true })).toMatchObject({ ok: true, events: 20 });
    await log.close();

    const keys = await objectNames('audit/app-2/');
    const victim = keys[1]!;
    const other = keys[2]!;
    const otherBody = await (await encrypting.send(new GetObjectCommand({ Bucket: bucket, Key: other }))).Body!.transformToByteArray();
    await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: victim, Body: otherBody }));
    const report = await verifyAuditLog({ s3: location, publicKey });
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject({ file: victim.slice('audit/app-2/'.length), line: 1, kind: 'reordered' });
  });
});

describe('EncryptingS3Client auditing into the tamper-evident log (fail-closed)', () => {
  it('every key operation of concurrent Put/Get/Head/Copy is in a chain the offline verifier accepts, durable when each send resolves', async () => {
    const { EncryptingS3Client: Client, RawAesKeyring } = await import('@s3crypt/client');
    const { randomBytes } = await import('node:crypto');
    const { readFileSync } = await import('node:fs');
    const directory = mkdtempSync(join(tmpdir(), 's3crypt-audit-e2e-'));
    const log = await TamperEvidentLog.open({ directory, signingKey: privateKey, checkpointEveryRecords: 10 });
    const client = new Client({
      client: plain,
      keyring: new RawAesKeyring({ keyName: 'audited', masterKey: randomBytes(32) }),
      audit: { sink: log, whenFull: 'fail-closed', principal: 'e2e-test' },
    });
    const keys = Array.from({ length: 20 }, (_, n) => `audited/${n}`);
    await Promise.all(keys.map((Key, n) => client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: `record ${n}` }))));
    // Durable on resolve: the records are already in the files before close() seals anything.
    const written = readdirSync(directory).map((file) => readFileSync(join(directory, file), 'utf8')).join('');
    for (const Key of keys) expect(written).toContain(`"key":"${Key}"`);
    await Promise.all(keys.map((Key) => client.send(new GetObjectCommand({ Bucket: bucket, Key })).then((r) => r.Body!.transformToString())));
    await client.send(new (await import('@aws-sdk/client-s3')).CopyObjectCommand({ Bucket: bucket, Key: 'audited/copy', CopySource: `${bucket}/audited/0` }));
    await log.close();

    const report = await verifyAuditLog({ directory, publicKey });
    expect(report.problems).toEqual([]);
    // 20 generate + 20 store + 20 unwrap, and the copy's unwrap (source) + wrap (destination).
    expect(report).toMatchObject({ ok: true });
    expect(report.events).toBeGreaterThanOrEqual(62);
    const lines = readdirSync(directory).flatMap((file) => readFileSync(join(directory, file), 'utf8').trim().split('\n')).map((line) => JSON.parse(line) as { event?: { operation: string; principal?: string; key?: string } });
    const events = lines.flatMap((line) => (line.event ? [line.event] : []));
    expect(events.filter((e) => e.operation === 'unwrap' && e.key?.startsWith('audited/')).length).toBeGreaterThanOrEqual(21);
    expect(events.every((e) => e.principal === 'e2e-test')).toBe(true);
  });
});
