// Audit events of EncryptingS3Client against real MinIO: one event per key operation with the fields
// docs/AUDIT.md promises, the policy refusals and plaintext reads, fail-closed durability (the event
// is in the JSON Lines file when the operation resolves; a failing sink fails the operation), the
// drop counter, and many operations in parallel each recorded exactly once.
import {
  CopyObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AuditError,
  EncryptingS3Client,
  JsonLinesSink,
  RawAesKeyring,
  S3ecAesKeyring,
  callbackSink,
  s3cryptInfo,
  withS3Crypt,
  type AuditEvent,
  type AuditOptions,
  type EncryptingS3ClientOptions,
} from '@s3crypt/client';
import { getBody, markedBytes, testClients } from './harness/clients.js';

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 's3crypt-audit-minio-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KEK = { providerId: 'raw-aes', keyId: 'audit-key' };

async function audited(audit: Partial<AuditOptions> = {}, extra: Partial<EncryptingS3ClientOptions> = {}) {
  const { plain, bucket } = await testClients();
  const events: AuditEvent[] = [];
  const keyring = new RawAesKeyring({ keyName: 'audit-key', masterKey: randomBytes(32) });
  const client = new EncryptingS3Client({ client: plain, keyring, audit: { sink: callbackSink((event) => void events.push(event)), ...audit }, ...extra });
  return { plain, bucket, keyring, client, events };
}

const fileLines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as AuditEvent);

describe('audit events through MinIO', () => {
  it('PutObject: generate (the KEK that wrapped) then store (the identity), one request id, the default principal', async () => {
    const { client, bucket, events } = await audited();
    const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'a.txt', Body: 'secret' }));
    await client.flushAudit();
    const objectId = s3cryptInfo(put)!.objectId;
    expect(events).toEqual([
      expect.objectContaining({ schema: 1, operation: 'generate', outcome: 'success', command: 'PutObject', bucket, key: 'a.txt', keks: [KEK], formatVersion: 2, principal: 's3crypt-test' }),
      expect.objectContaining({ schema: 1, operation: 'store', outcome: 'success', command: 'PutObject', bucket, key: 'a.txt', objectId, formatVersion: 2, principal: 's3crypt-test' }),
    ]);
    expect(events[0]!.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(events[1]!.requestId).toBe(events[0]!.requestId);
    expect(Date.parse(events[0]!.time)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('GetObject and HeadObject: one unwrap each, with the KEK that unwrapped, the identity and the version', async () => {
    const { client, plain, bucket, events } = await audited();
    await plain.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'v', Body: 'versioned' }));
    expect(await getBody(client, bucket, 'v')).toEqual(Buffer.from('versioned'));
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'v' }));
    await client.flushAudit();
    const reads = events.filter((event) => event.operation === 'unwrap');
    const expected = { outcome: 'success', bucket, key: 'v', versionId: put.VersionId, objectId: s3cryptInfo(put)!.objectId, keks: [KEK], formatVersion: 2 };
    expect(reads).toEqual([expect.objectContaining({ ...expected, command: 'GetObject' }), expect.objectContaining({ ...expected, command: 'HeadObject' })]);
    expect(events.find((event) => event.operation === 'store')?.versionId).toBe(put.VersionId);
  });

  it('S3 Encryption Client objects: generate, store and unwrap name the object and its format (s3ec, version 3)', async () => {
    const { plain, bucket } = await testClients();
    const events: AuditEvent[] = [];
    const keyring = new S3ecAesKeyring({ wrappingKey: randomBytes(32), materialDescription: { app: 'audit' } });
    const client = new EncryptingS3Client({ client: plain, keyring, s3ec: { write: true }, audit: { sink: callbackSink((event) => void events.push(event)) } });
    const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 's3ec.txt', Body: 'interop' }));
    expect(s3cryptInfo(put)).toMatchObject({ format: 's3ec', formatVersion: 3 });
    expect(await getBody(client, bucket, 's3ec.txt')).toEqual(Buffer.from('interop'));
    await client.flushAudit();
    const object = { bucket, key: 's3ec.txt', format: 's3ec', formatVersion: 3 };
    expect(events.map(({ operation, outcome, command }) => ({ operation, outcome, command }))).toEqual([
      { operation: 'generate', outcome: 'success', command: 'PutObject' },
      { operation: 'store', outcome: 'success', command: 'PutObject' },
      { operation: 'unwrap', outcome: 'success', command: 'GetObject' },
    ]);
    for (const event of events) expect(event).toMatchObject(object);
    expect(events[0]!.keks).toHaveLength(1);
    expect(events[2]!.keks).toEqual(events[0]!.keks);
    client.destroy();
  });

  it('CopyObject: unwrap of the source, wrap for the destination, store of the copy', async () => {
    const { client, bucket, events } = await audited();
    const source = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: 'copy me' }));
    events.length = 0;
    const copy = await client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'dst', CopySource: `${bucket}/src` }));
    await client.flushAudit();
    expect(events.map((event) => [event.operation, event.outcome, event.key])).toEqual([
      ['unwrap', 'success', 'src'],
      ['wrap', 'success', 'dst'],
      ['store', 'success', 'dst'],
    ]);
    expect(events[0]).toMatchObject({ command: 'CopyObject', objectId: s3cryptInfo(source)!.objectId, keks: [KEK] });
    expect(events[1]).toMatchObject({ command: 'CopyObject', keks: [KEK], formatVersion: 2 });
    expect(events[2]).toMatchObject({ command: 'CopyObject', objectId: s3cryptInfo(copy)!.objectId });
    expect(new Set(events.map((event) => event.requestId)).size).toBe(1);
  });

  it('multipart (lib-storage Upload): generate at CreateMultipartUpload, store at CompleteMultipartUpload, nothing per part', async () => {
    const { client, bucket, events } = await audited();
    const done = await new Upload({ client, params: { Bucket: bucket, Key: 'big', Body: markedBytes(11 * MiB) }, partSize: 5 * MiB }).done();
    await client.flushAudit();
    expect(events).toEqual([
      expect.objectContaining({ operation: 'generate', outcome: 'success', command: 'CreateMultipartUpload', key: 'big', keks: [KEK] }),
      expect.objectContaining({ operation: 'store', outcome: 'success', command: 'CompleteMultipartUpload', key: 'big', objectId: s3cryptInfo(done)!.objectId }),
    ]);
  });

  it('policy refusals: an untrusted KEK, an unsigned object where signatures are required, an identity that does not match', async () => {
    const writer = await audited();
    await writer.client.send(new PutObjectCommand({ Bucket: writer.bucket, Key: 'p', Body: 'x' }));
    const events: AuditEvent[] = [];
    const sink = callbackSink((event) => void events.push(event));
    const untrusting = new EncryptingS3Client({ client: writer.plain, keyring: writer.keyring, keyPolicy: { trustedKeks: [{ providerId: 'raw-aes', keyId: 'other' }] }, audit: { sink } });
    await expect(untrusting.send(new GetObjectCommand({ Bucket: writer.bucket, Key: 'p' }))).rejects.toMatchObject({ code: 'ERR_KEY_NOT_ALLOWED' });
    const { generateKeyPairSync } = await import('node:crypto');
    const pinned = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
    const signing = new EncryptingS3Client({ client: writer.plain, keyring: writer.keyring, keyPolicy: { verificationKeys: [pinned] }, audit: { sink } });
    await expect(signing.send(new HeadObjectCommand({ Bucket: writer.bucket, Key: 'p' }))).rejects.toMatchObject({ code: 'ERR_UNSIGNED_OBJECT' });
    await expect(writer.client.send(withS3Crypt(new GetObjectCommand({ Bucket: writer.bucket, Key: 'p' }), { expectedObjectId: 'A'.repeat(43) }))).rejects.toMatchObject({
      code: 'ERR_OBJECT_ID_MISMATCH',
    });
    await Promise.all([untrusting.flushAudit(), signing.flushAudit(), writer.client.flushAudit()]);
    expect(events).toEqual([
      expect.objectContaining({ operation: 'policy', outcome: 'refused', reason: 'ERR_KEY_NOT_ALLOWED', command: 'GetObject', key: 'p', formatVersion: 2 }),
      expect.objectContaining({ operation: 'policy', outcome: 'refused', reason: 'ERR_UNSIGNED_OBJECT', command: 'HeadObject', key: 'p', formatVersion: 2 }),
    ]);
    expect(events[0]!.keks).toBeUndefined();
    // The identity is checked after the key unwrapped: the refusal names the KEK that did.
    expect(writer.events.at(-1)).toMatchObject({ operation: 'policy', outcome: 'refused', reason: 'ERR_OBJECT_ID_MISMATCH', keks: [KEK] });
  });

  it('an unwrap that fails carries the typed code and the KEKs tried', async () => {
    const writer = await audited();
    await writer.client.send(new PutObjectCommand({ Bucket: writer.bucket, Key: 'w', Body: 'x' }));
    const events: AuditEvent[] = [];
    const wrongKey = new RawAesKeyring({ keyName: 'audit-key', masterKey: randomBytes(32) });
    const reader = new EncryptingS3Client({ client: writer.plain, keyring: wrongKey, audit: { sink: callbackSink((event) => void events.push(event)) } });
    const failure = (await reader.send(new GetObjectCommand({ Bucket: writer.bucket, Key: 'w' })).then(() => expect.unreachable('the read succeeded'), (error: unknown) => error)) as { code: string };
    await reader.flushAudit();
    expect(events).toEqual([expect.objectContaining({ operation: 'unwrap', outcome: 'failure', reason: failure.code, keks: [KEK], key: 'w' })]);
    expect(failure.code).toMatch(/^ERR_/);
  });

  it('plaintext reads: allowed by the selection, or refused with ERR_NOT_ENCRYPTED', async () => {
    const { plain, bucket } = await testClients();
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'legacy/a', Body: 'old' }));
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'other', Body: 'old' }));
    const events: AuditEvent[] = [];
    const client = new EncryptingS3Client({
      client: plain,
      keyring: new RawAesKeyring({ keyName: 'audit-key', masterKey: randomBytes(32) }),
      allowPlaintextReads: [{ bucket, prefix: 'legacy/' }],
      audit: { sink: callbackSink((event) => void events.push(event)) },
    });
    expect(await getBody(client, bucket, 'legacy/a')).toEqual(Buffer.from('old'));
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'legacy/a' }));
    await expect(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'other' }))).rejects.toMatchObject({ code: 'ERR_NOT_ENCRYPTED' });
    await client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'encrypted-copy', CopySource: `${bucket}/legacy/a` }));
    await client.flushAudit();
    expect(events.map((event) => [event.command, event.operation, event.outcome, event.key, event.reason])).toEqual([
      ['GetObject', 'plaintext-read', 'success', 'legacy/a', undefined],
      ['HeadObject', 'plaintext-read', 'success', 'legacy/a', undefined],
      ['GetObject', 'plaintext-read', 'refused', 'other', 'ERR_NOT_ENCRYPTED'],
      ['CopyObject', 'plaintext-read', 'success', 'legacy/a', undefined],
      ['CopyObject', 'generate', 'success', 'encrypted-copy', undefined],
      ['CopyObject', 'store', 'success', 'encrypted-copy', undefined],
    ]);
  });

  it('principal: a configured string, or a function called once per send', async () => {
    let calls = 0;
    const fixed = await audited({ principal: 'svc-reports' });
    await fixed.client.send(new PutObjectCommand({ Bucket: fixed.bucket, Key: 'k', Body: 'x' }));
    const perSend = await audited({ principal: async () => `user-${++calls}` });
    await perSend.client.send(new PutObjectCommand({ Bucket: perSend.bucket, Key: 'k', Body: 'x' }));
    await getBody(perSend.client, perSend.bucket, 'k');
    await Promise.all([fixed.client.flushAudit(), perSend.client.flushAudit()]);
    expect(fixed.events.map((event) => event.principal)).toEqual(['svc-reports', 'svc-reports']);
    expect(perSend.events.map((event) => event.principal)).toEqual(['user-1', 'user-1', 'user-2']);
  });
});

describe('fail-closed through MinIO', () => {
  it('the events of a PUT and a GET are in the JSON Lines file when their promises resolve', async () => {
    const path = join(dir, 'durable.jsonl');
    const { client, bucket } = await audited({ sink: new JsonLinesSink({ path }), whenFull: 'fail-closed' });
    const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'd', Body: 'durable' }));
    expect(fileLines(path).map((event) => [event.operation, event.key])).toEqual([
      ['generate', 'd'],
      ['store', 'd'],
    ]);
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'd' }));
    expect(fileLines(path).at(-1)).toMatchObject({ operation: 'unwrap', outcome: 'success', objectId: s3cryptInfo(put)!.objectId });
    expect(await got.Body!.transformToString()).toBe('durable');
  });

  it('a failing sink fails the write with ERR_AUDIT_FAILED naming the stored object, and the read with no body', async () => {
    const failure = new Error('audit disk full');
    let failing = false;
    const { client, plain, bucket } = await audited({
      sink: callbackSink(() => {
        if (failing) throw failure;
      }),
      whenFull: 'fail-closed',
    });
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'ok', Body: 'x' }));
    failing = true;
    const writeError = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'f', Body: 'x' })).catch((error: unknown) => error);
    expect(writeError).toBeInstanceOf(AuditError);
    expect(writeError).toMatchObject({ code: 'ERR_AUDIT_FAILED', stored: true, bucket, key: 'f', cause: failure });
    // Fail closed, not undone: the object the write stored is there (and the caller knows which).
    await expect(plain.send(new HeadObjectCommand({ Bucket: bucket, Key: 'f' }))).resolves.toBeDefined();
    const readError = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'ok' })).catch((error: unknown) => error);
    expect(readError).toMatchObject({ code: 'ERR_AUDIT_FAILED', stored: false });
    expect(client.auditStats()).toMatchObject({ failed: 3, written: 2, dropped: 0, pending: 0 });
  });

  it('block and drop never fail an operation for a failing sink; drop counts what a full buffer lost', async () => {
    const broken = callbackSink(() => Promise.reject(new Error('down')));
    const blocking = await audited({ sink: broken, whenFull: 'block' });
    await blocking.client.send(new PutObjectCommand({ Bucket: blocking.bucket, Key: 'b', Body: 'x' }));
    await blocking.client.flushAudit();
    expect(blocking.client.auditStats()).toMatchObject({ emitted: 2, failed: 2, written: 0 });

    const slow = callbackSink(() => new Promise((resolve) => setTimeout(resolve, 50)));
    const dropping = await audited({ sink: slow, whenFull: 'drop', bufferSize: 1 });
    await Promise.all(Array.from({ length: 8 }, (_, n) => dropping.client.send(new PutObjectCommand({ Bucket: dropping.bucket, Key: `d${n}`, Body: 'x' }))));
    await dropping.client.flushAudit();
    const stats = dropping.client.auditStats()!;
    expect(stats.dropped).toBeGreaterThan(0);
    expect(stats.written + stats.dropped).toBe(16);
    expect(stats.emitted).toBe(16);
  });

  it('many operations in parallel: every event in the file exactly once', async () => {
    const path = join(dir, 'parallel.jsonl');
    const { client, bucket } = await audited({ sink: new JsonLinesSink({ path }), whenFull: 'fail-closed', bufferSize: 16 });
    const keys = Array.from({ length: 60 }, (_, n) => `p/${n}`);
    await Promise.all(keys.map((key) => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }))));
    await Promise.all(keys.map(async (key) => expect((await getBody(client, bucket, key)).toString()).toBe(key)));
    const events = fileLines(path);
    expect(events).toHaveLength(keys.length * 3);
    for (const key of keys) {
      expect(events.filter((event) => event.key === key).map((event) => event.operation).sort()).toEqual(['generate', 'store', 'unwrap']);
    }
    expect(new Set(events.map((event) => `${event.requestId}/${event.operation}`)).size).toBe(events.length);
  });
});
