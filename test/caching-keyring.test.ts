// CachingKeyring through EncryptingS3Client on the test MinIO, with real KMS servers behind it:
// OpenBao Transit for single-flight (unwraps counted by a keyring between the cache and Transit), and
// moto's AWS KMS behind the key-state proxy for crypto-shredding (a disabled key must stop reads once
// the cache's TTL is over, or at once after flush()).
import { CopyObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateKeyCommand, DisableKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { setTimeout as sleep } from 'node:timers/promises';
import { CachingKeyring, callbackSink, EncryptingS3Client, type AuditEvent, type Keyring } from '@s3crypt/client';
import { AwsKmsKeyring } from '@s3crypt/kms-aws';
import { VaultTransitKeyring } from '@s3crypt/kms-vault';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getBody, markedBytes } from './harness/clients.js';
import { kmsRejection } from './harness/kms-rejection.js';
import { startKeyStateProxy, type KeyStateProxy } from './harness/kms-key-state-proxy.js';
import { freshBucket, s3Client } from './harness/minio.js';
import { kmsClient, motoFromEnvOrStarted } from './harness/moto.js';
import { openBaoWithTransit, type OpenBao } from './harness/openbao.js';
import type { RunningServer } from './harness/process.js';

const runId = `${process.pid}-${Date.now().toString(36)}`;
const SEGMENT_SIZE = 64 * 1024;
const OBJECT = markedBytes(5 * SEGMENT_SIZE + 1234, 7);
/** Ten different ranges of OBJECT, several spanning segment boundaries. */
const RANGES = Array.from({ length: 10 }, (_, index) => {
  const start = index * 31_013;
  return { start, end: start + 70_000 + index * 997 };
});

let plain: S3Client;
beforeAll(() => {
  plain = s3Client(inject('s3'));
});

/** Counts the unwraps that reach the keyring it wraps; `gate` (if set) runs before each. */
function countingKeyring(inner: Keyring) {
  const counter = {
    unwraps: 0,
    gate: undefined as (() => Promise<void>) | undefined,
    keyring: {
      onEncrypt: (request) => inner.onEncrypt(request),
      async onDecrypt(request) {
        counter.unwraps += 1;
        await counter.gate?.();
        return inner.onDecrypt(request);
      },
      kekMatchers: () => inner.kekMatchers?.(),
    } satisfies Keyring,
  };
  return counter;
}

/** Resolves once `condition` holds, checking every few milliseconds (the test's timeout bounds the wait). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(5);
}

async function rangedGet(client: S3Client, bucket: string, key: string, range: { start: number; end: number }): Promise<void> {
  const body = await getBody(client, bucket, key, { Range: `bytes=${range.start}-${range.end}` });
  expect(body.equals(OBJECT.subarray(range.start, range.end + 1))).toBe(true);
}

describe('CachingKeyring with VaultTransitKeyring on OpenBao, through EncryptingS3Client on MinIO', () => {
  let bao: OpenBao;
  let counter: ReturnType<typeof countingKeyring>;
  let cache: CachingKeyring;
  let client: EncryptingS3Client;
  let bucket: string;

  beforeAll(async () => {
    bao = await openBaoWithTransit();
    const keyName = `s3crypt-cache-${runId}`;
    await bao.api('POST', `transit/keys/${keyName}`, { type: 'aes256-gcm96' });
    counter = countingKeyring(new VaultTransitKeyring({ keyName, endpoint: bao.endpoint, token: bao.rootToken }));
    cache = new CachingKeyring({ keyring: counter.keyring, maxAgeMs: 10 * 60_000 });
    client = new EncryptingS3Client({ client: plain, keyring: cache, segmentSize: SEGMENT_SIZE });
    bucket = await freshBucket(plain, 'cache');
  });

  afterAll(async () => {
    await bao?.server?.stop();
  });

  it('ten concurrent ranged GETs of one cold object cost one unwrap (single-flight), and a HeadObject after them none', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'concurrent', Body: OBJECT }));
    expect(counter.unwraps).toBe(0);
    // The one unwrap that reaches Transit waits until all ten readers have asked the cache, so they
    // are truly concurrent misses; without single-flight each would reach Transit on its own.
    counter.gate = () => until(() => cache.stats().misses + cache.stats().coalesced + cache.stats().hits >= RANGES.length);
    await Promise.all(RANGES.map((range) => rangedGet(client, bucket, 'concurrent', range)));
    counter.gate = undefined;
    expect(counter.unwraps).toBe(1);
    expect(cache.stats()).toMatchObject({ misses: 1, coalesced: 9, hits: 0, entries: 1 });

    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'concurrent' }));
    expect(head.ContentLength).toBe(OBJECT.length);
    expect(counter.unwraps).toBe(1);
  });

  it('audits every lookup as a cache event (miss, then hits), naming the object and KEK, never the key', async () => {
    const events: AuditEvent[] = [];
    const audited = new EncryptingS3Client({ client: plain, keyring: cache, segmentSize: SEGMENT_SIZE, audit: { sink: callbackSink((event) => void events.push(event)) } });
    await audited.send(new PutObjectCommand({ Bucket: bucket, Key: 'audited', Body: OBJECT }));
    await getBody(audited, bucket, 'audited');
    await getBody(audited, bucket, 'audited');
    await audited.flushAudit();
    const lookups = events.filter((event) => event.operation === 'cache');
    expect(lookups.map((event) => event.outcome)).toEqual(['miss', 'hit']);
    for (const event of lookups) expect(event).toMatchObject({ bucket, key: 'audited', keks: [{ providerId: 'vault-transit' }] });
  });

  it('ten sequential ranged GETs and a HeadObject of another object cost one unwrap', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'sequential', Body: OBJECT }));
    const before = counter.unwraps;
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'sequential' }));
    expect(head.ContentLength).toBe(OBJECT.length);
    for (const range of RANGES) await rangedGet(client, bucket, 'sequential', range);
    expect((await getBody(client, bucket, 'sequential')).equals(OBJECT)).toBe(true);
    expect(counter.unwraps - before).toBe(1);
  });

  it('a warm cache never serves one object\'s key for another: the same envelope copied to another key still goes to Transit, which refuses it', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'original', Body: OBJECT }));
    expect((await getBody(client, bucket, 'original')).equals(OBJECT)).toBe(true);
    const before = counter.unwraps;
    // Copied behind the client's back: the same wrapped key, now under another object key.
    await plain.send(new CopyObjectCommand({ Bucket: bucket, Key: 'moved', CopySource: `${bucket}/original` }));
    const error = await kmsRejection(getBody(client, bucket, 'moved'));
    expect(error.code).toBe('ERR_KMS_WRONG_KEY');
    expect(counter.unwraps - before).toBe(1);
  });
});

describe('crypto-shredding with a CachingKeyring: AwsKmsKeyring on moto behind the key-state proxy, through EncryptingS3Client on MinIO', () => {
  let server: RunningServer | undefined;
  let proxy: KeyStateProxy;
  let kms: KMSClient;

  beforeAll(async () => {
    const started = await motoFromEnvOrStarted();
    server = started.server;
    const { endpoint } = started;
    proxy = await startKeyStateProxy(endpoint);
    kms = kmsClient(proxy.endpoint);
  });

  afterAll(async () => {
    kms?.destroy();
    await proxy?.close();
    await server?.stop();
  });

  /** A fresh KMS key, a caching keyring over it, an encrypting client, and one object read once (so the cache is warm). */
  async function warmedUp(maxAgeMs: number) {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 's3crypt caching keyring test' }));
    const arn = KeyMetadata!.Arn!;
    const cache = new CachingKeyring({ keyring: new AwsKmsKeyring({ keyId: arn, client: kms }), maxAgeMs });
    const client = new EncryptingS3Client({ client: plain, keyring: cache });
    const bucket = await freshBucket(plain, 'shred');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'secret', Body: 'shred me' }));
    expect((await getBody(client, bucket, 'secret')).toString()).toBe('shred me');
    expect(cache.stats()).toMatchObject({ entries: 1, misses: 1 });
    return { keyId: KeyMetadata!.KeyId!, arn, cache, client, bucket };
  }

  async function expectDisabled(client: EncryptingS3Client, bucket: string, arn: string): Promise<void> {
    const error = await kmsRejection(getBody(client, bucket, 'secret'));
    expect(error).toMatchObject({ code: 'ERR_KMS_KEY_DISABLED', keyId: arn });
    expect((error.cause as Error).name).toBe('DisabledException');
  }

  it('a disabled key keeps working from a warm cache within its TTL, and fails with ERR_KMS_KEY_DISABLED once the TTL is over', async () => {
    const { keyId, arn, cache, client, bucket } = await warmedUp(5_000);
    await kms.send(new DisableKeyCommand({ KeyId: keyId }));
    const innerCallsBefore = cache.stats().innerCalls;
    expect((await getBody(client, bucket, 'secret')).toString()).toBe('shred me');
    expect(cache.stats().innerCalls).toBe(innerCallsBefore);
    expect(cache.stats().hits).toBe(1);

    // Wait the TTL out: the entry's own timer drops (and zeroes) it.
    await until(() => cache.stats().entries === 0);
    await expectDisabled(client, bucket, arn);
    expect(cache.stats().innerCalls).toBe(innerCallsBefore + 1);
  });

  it('flush() makes reads fail at once, however long the TTL', async () => {
    const { keyId, arn, cache, client, bucket } = await warmedUp(10 * 60_000);
    await kms.send(new DisableKeyCommand({ KeyId: keyId }));
    expect((await getBody(client, bucket, 'secret')).toString()).toBe('shred me');
    cache.flush();
    expect(cache.stats().entries).toBe(0);
    await expectDisabled(client, bucket, arn);
  });
});
