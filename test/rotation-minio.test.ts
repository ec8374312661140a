// Key rotation (rotateKeys / rotateObject) on the real MinIO, with data keys wrapped by OpenBao
// Transit, the AWS KMS server (moto) and local keys: a mixed prefix rotated while a reader loops, a
// multipart copy of an object larger than the copy threshold, dry runs, idempotent reruns, a
// concurrent overwrite that must survive, full re-encryption and plaintext migration.
import { CreateKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { randomBytes } from 'node:crypto';
import {
  CustomerKeyring,
  EncryptingS3Client,
  MultiKeyring,
  RawAesKeyring,
  rotateKeys,
  rotateObject,
  s3cryptInfo,
  type EncryptResult,
  type Keyring,
} from '@s3crypt/client';
import { AwsKmsKeyring } from '@s3crypt/kms-aws';
import { VaultTransitKeyring } from '@s3crypt/kms-vault';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getBody, markedBytes } from './harness/clients.js';
import { freshBucket, s3Client } from './harness/minio.js';
import { kmsClient, motoFromEnvOrStarted } from './harness/moto.js';
import { openBaoWithTransit, type OpenBao } from './harness/openbao.js';
import type { RunningServer } from './harness/process.js';

let plain: S3Client;
let bao: OpenBao;
let moto: RunningServer | undefined;
let kms: KMSClient;
const runId = `${process.pid}-${Date.now().toString(36)}`;
let keyCounter = 0;

beforeAll(async () => {
  plain = s3Client(inject('s3'));
  bao = await openBaoWithTransit();
  const started = await motoFromEnvOrStarted();
  moto = started.server;
  const { endpoint } = started;
  kms = kmsClient(endpoint);
});

afterAll(async () => {
  kms?.destroy();
  await moto?.stop();
  await bao?.server?.stop();
});

async function transitKeyring(): Promise<VaultTransitKeyring> {
  const keyName = `rotation-${runId}-${++keyCounter}`;
  await bao.api('POST', `transit/keys/${keyName}`, { type: 'aes256-gcm96' });
  return new VaultTransitKeyring({ keyName, endpoint: bao.endpoint, token: bao.rootToken });
}

async function awsKeyring(): Promise<AwsKmsKeyring> {
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 's3crypt rotation test' }));
  return new AwsKmsKeyring({ keyId: KeyMetadata!.Arn!, client: kms });
}

function localKeyring(name: string): RawAesKeyring {
  return new RawAesKeyring({ keyName: `${name}-${++keyCounter}`, masterKey: randomBytes(32) });
}

/** A client that writes with `keyring` (and reads whatever its keyring and the extra ones unwrap). */
function clientFor(keyring: Keyring, readAlso: Keyring[] = [], bucket?: string): EncryptingS3Client {
  return new EncryptingS3Client({
    client: plain,
    keyring: readAlso.length ? new MultiKeyring({ generator: keyring, children: readAlso }) : keyring,
    ...(bucket ? { allowPlaintextReads: [{ bucket }] } : {}),
  });
}

/** The s3crypt envelope an object's stored metadata carries, if any (read with the plain client, not parsed). */
async function storedEnvelope(bucket: string, key: string): Promise<string | undefined> {
  const { Metadata = {} } = await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return Object.entries(Metadata).find(([name]) => name.startsWith('s3crypt'))?.[1];
}

describe('rotateKeys on a mixed prefix', () => {
  it('re-wraps every KEK to the target while a reader loops, leaving data bytes, identity, headers and tags as they were', { timeout: 300_000 }, async () => {
    const bucket = await freshBucket(plain, 'rotate');
    const [vaultOld, aws, local, target] = [await transitKeyring(), await awsKeyring(), localKeyring('old'), await transitKeyring()];
    const writers = [vaultOld, aws, local];
    const objects = new Map<string, Buffer>();
    const identities = new Map<string, string>();
    // Three objects per KEK, with content headers, metadata, tags and a storage class to keep.
    for (const [w, writer] of writers.entries()) {
      const client = clientFor(writer);
      for (let i = 0; i < 3; i++) {
        const key = `data/kek${w}-${i}.bin`;
        const body = markedBytes(1000 + 70_000 * i, w * 10 + i);
        const put = await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: body,
            ContentType: 'application/x-test',
            CacheControl: 'max-age=60',
            ContentDisposition: 'attachment',
            Metadata: { owner: `team-${w}` },
            Tagging: `kek=${w}&n=${i}`,
            StorageClass: 'REDUCED_REDUNDANCY',
          }),
        );
        objects.set(key, body);
        identities.set(key, s3cryptInfo(put)!.objectId!);
      }
    }
    // A multipart object larger than the copy threshold below: copied with UploadPartCopy.
    const big = markedBytes(12 * 1024 * 1024, 99);
    await new Upload({ client: clientFor(aws), params: { Bucket: bucket, Key: 'data/big.bin', Body: big, Metadata: { owner: 'big' } }, partSize: 5 * 1024 * 1024 }).done();
    objects.set('data/big.bin', big);
    // Plaintext objects, migrated in place.
    for (let i = 0; i < 2; i++) {
      const body = markedBytes(5000, 200 + i);
      await plain.send(new PutObjectCommand({ Bucket: bucket, Key: `data/plain-${i}.txt`, Body: body, ContentType: 'text/plain', Metadata: { legacy: 'yes' } }));
      objects.set(`data/plain-${i}.txt`, body);
    }
    const storedBefore = new Map<string, Buffer>();
    for (const key of objects.keys()) storedBefore.set(key, await getBody(plain, bucket, key));

    // Reader and rotator both unwrap every old KEK; the rotator's target is `target`.
    const reader = clientFor(target, writers, bucket);
    const rotator = clientFor(target, writers, bucket);

    const dry = await rotateKeys(rotator, { bucket, prefix: 'data/', to: target, migratePlaintext: true, dryRun: true });
    expect(dry).toMatchObject({ rotated: 0, wouldRotate: objects.size, failed: 0 });
    for (const key of objects.keys()) expect((await getBody(plain, bucket, key)).equals(storedBefore.get(key)!)).toBe(true);

    let stop = false;
    let reads = 0;
    const readerLoop = (async () => {
      while (!stop) {
        for (const [key, body] of objects) {
          expect((await getBody(reader, bucket, key)).equals(body)).toBe(true);
          const range = await getBody(reader, bucket, key, { Range: 'bytes=100-199' });
          expect(range.equals(body.subarray(100, 200))).toBe(true);
          const head = await reader.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
          expect(head.ContentLength).toBe(body.length);
          reads++;
        }
      }
    })();
    const progress: number[] = [];
    const summary = await rotateKeys(rotator, {
      bucket,
      prefix: 'data/',
      to: target,
      migratePlaintext: true,
      concurrency: 3,
      multipartCopyThreshold: 6 * 1024 * 1024,
      onProgress: (p) => progress.push(p.done),
    });
    stop = true;
    await readerLoop;
    expect(reads).toBeGreaterThan(0);
    expect(summary).toMatchObject({ rotated: objects.size, skipped: 0, failed: 0, failures: [] });
    expect(progress).toHaveLength(objects.size);
    expect(summary.resumeAfter).toBe([...objects.keys()].sort().at(-1));

    // Only the target unwraps now.
    const onlyTarget = clientFor(target);
    for (const [key, body] of objects) {
      const got = await onlyTarget.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
      if (identities.has(key)) expect(s3cryptInfo(got)!.objectId).toBe(identities.get(key));
    }
    // Re-wrapped objects: the stored data bytes are the same, only the metadata changed.
    for (const key of objects.keys()) {
      if (key.includes('plain')) continue;
      const after = await getBody(plain, bucket, key);
      expect(after.equals(storedBefore.get(key)!)).toBe(true);
      expect(await storedEnvelope(bucket, key)).toBeDefined();
    }
    const head = await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: 'data/kek1-2.bin' }));
    expect(head).toMatchObject({ ContentType: 'application/x-test', CacheControl: 'max-age=60', ContentDisposition: 'attachment', StorageClass: 'REDUCED_REDUNDANCY' });
    expect(head.Metadata?.owner).toBe('team-1');
    const tags = await plain.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'data/kek1-2.bin' }));
    expect(Object.fromEntries(tags.TagSet!.map((t) => [t.Key, t.Value]))).toEqual({ kek: '1', n: '2' });
    expect((await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: 'data/big.bin' }))).Metadata?.owner).toBe('big');
    const migrated = await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: 'data/plain-0.txt' }));
    expect(migrated).toMatchObject({ ContentType: 'text/plain', Metadata: expect.objectContaining({ legacy: 'yes' }) });
    expect((await getBody(plain, bucket, 'data/plain-0.txt')).equals(objects.get('data/plain-0.txt')!)).toBe(false);

    // A second run finds nothing to do.
    const again = await rotateKeys(rotator, { bucket, prefix: 'data/', to: target, migratePlaintext: true });
    expect(again).toMatchObject({ rotated: 0, failed: 0, skipped: objects.size, skippedBy: { 'already-rotated': objects.size } });
  });

  it('selects by KEK, metadata, tags and age, and skips plaintext unless migrating', async () => {
    const bucket = await freshBucket(plain, 'rotate-select');
    const [a, b, target] = [localKeyring('a'), localKeyring('b'), localKeyring('target')];
    await clientFor(a).send(new PutObjectCommand({ Bucket: bucket, Key: 'a1', Body: 'a1', Metadata: { team: 'x' }, Tagging: 'class=hot' }));
    await clientFor(a).send(new PutObjectCommand({ Bucket: bucket, Key: 'a2', Body: 'a2', Metadata: { team: 'y' }, Tagging: 'class=cold' }));
    await clientFor(b).send(new PutObjectCommand({ Bucket: bucket, Key: 'b1', Body: 'b1', Metadata: { team: 'x' } }));
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'p1', Body: 'p1' }));
    const rotator = clientFor(target, [a, b]);
    const byKek = await rotateKeys(rotator, { bucket, to: target, fromKeks: a.kekMatchers(), dryRun: true });
    expect(byKek).toMatchObject({ wouldRotate: 2, skippedBy: { 'not-selected': 1, 'not-encrypted': 1 } });
    const byMeta = await rotateKeys(rotator, { bucket, to: target, metadata: { team: 'x' }, dryRun: true });
    expect(byMeta.wouldRotate).toBe(2);
    const byTags = await rotateKeys(rotator, { bucket, to: target, tags: { class: 'cold' }, dryRun: true });
    expect(byTags.wouldRotate).toBe(1);
    const byAge = await rotateKeys(rotator, { bucket, to: target, modifiedBefore: new Date(Date.now() - 3_600_000), dryRun: true });
    expect(byAge).toMatchObject({ wouldRotate: 0, skippedBy: { 'not-selected': 4 } });
    const real = await rotateKeys(rotator, { bucket, to: target, tags: (tags) => tags.class === 'cold' });
    expect(real).toMatchObject({ rotated: 1, failed: 0 });
    expect(await getBody(clientFor(target), bucket, 'a2')).toEqual(Buffer.from('a2'));
    await expect(getBody(clientFor(target), bucket, 'a1')).rejects.toMatchObject({ code: 'ERR_KEY_NOT_ALLOWED' });
  });
});

/** A target keyring that overwrites the object being rotated while it wraps (between the read and the copy). */
function overwritingDuringWrap(target: Keyring, overwrite: () => Promise<unknown>): Keyring {
  let done = false;
  return {
    onDecrypt: (request) => target.onDecrypt(request),
    kekMatchers: () => target.kekMatchers!(),
    async onEncrypt(request): Promise<EncryptResult> {
      if (!done) {
        done = true;
        await overwrite();
      }
      return target.onEncrypt(request);
    },
  };
}

describe('rotateObject and concurrent writers', () => {
  for (const [name, size, threshold] of [
    ['CopyObject', 10_000, undefined],
    ['a multipart copy', 11 * 1024 * 1024, 1024 * 1024],
  ] as const) {
    it(`never overwrites an object replaced during the rotation (${name})`, { timeout: 120_000 }, async () => {
      const bucket = await freshBucket(plain, 'rotate-race');
      const [old, target] = [localKeyring('old'), localKeyring('target')];
      const original = markedBytes(size, 5);
      await new Upload({ client: clientFor(old), params: { Bucket: bucket, Key: 'k', Body: original }, partSize: 5 * 1024 * 1024 }).done();
      const replacement = Buffer.from('written by another writer during the rotation');
      const racing = overwritingDuringWrap(target, () => clientFor(old).send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: replacement })));
      const result = await rotateObject(clientFor(target, [old]), { bucket, key: 'k' }, { to: racing, ...(threshold ? { multipartCopyThreshold: threshold } : {}) });
      expect(result).toMatchObject({ outcome: 'failed', reason: { code: 'ERR_OBJECT_CHANGED', retryable: true } });
      expect(await getBody(clientFor(old), bucket, 'k')).toEqual(replacement);
      // The next attempt rotates the new object.
      expect(await rotateObject(clientFor(target, [old]), { bucket, key: 'k' }, { to: target })).toMatchObject({ outcome: 'rotated', method: 'rewrap' });
      expect(await getBody(clientFor(target), bucket, 'k')).toEqual(replacement);
    });
  }

  it('reports a missing object, a noncurrent version and an unreadable object with typed reasons', async () => {
    const bucket = await freshBucket(plain, 'rotate-reasons');
    const [old, stranger, target] = [localKeyring('old'), localKeyring('stranger'), localKeyring('target')];
    const put = await clientFor(old).send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v1' }));
    await clientFor(stranger).send(new PutObjectCommand({ Bucket: bucket, Key: 'foreign', Body: 'x' }));
    const client = clientFor(target, [old]);
    expect(await rotateObject(client, { bucket, key: 'missing' }, { to: target })).toMatchObject({ outcome: 'skipped', reason: 'not-found' });
    expect(await rotateObject(client, { bucket, key: 'k', versionId: 'not-the-current-one' }, { to: target })).toMatchObject({ outcome: 'skipped', reason: 'noncurrent-version' });
    expect(await rotateObject(client, { bucket, key: 'foreign' }, { to: target })).toMatchObject({ outcome: 'failed', reason: { code: 'ERR_KEY_NOT_ALLOWED', retryable: false } });
    expect(put.ETag).toBeDefined();
  });

  it('a target keyring that ignores the abort signal cannot hold the rotation: it ends with the reason, the object unchanged', async () => {
    const bucket = await freshBucket(plain, 'rotate-abort');
    const old = localKeyring('old');
    const put = await clientFor(old).send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v1' }));
    let called = false;
    const target = localKeyring('target');
    // A keyring that never answers and never looks at its signal (a stuck KMS client, a custom keyring).
    const deaf: Keyring = {
      kekMatchers: () => target.kekMatchers(),
      onEncrypt: () => {
        called = true;
        return new Promise(() => undefined);
      },
      onDecrypt: () => new Promise(() => undefined),
    };
    const controller = new AbortController();
    const reason = new Error('operator stopped the rotation');
    const rotating = rotateObject(clientFor(old), { bucket, key: 'k' }, { to: deaf, signal: controller.signal });
    while (!called) await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort(reason);
    await expect(rotating).rejects.toBe(reason);
    const head = await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
    expect(head.ETag).toBe(put.ETag);
  });
});

describe('customer keys', () => {
  it('rotates an object from one customer key to another, then to a keyring', async () => {
    const bucket = await freshBucket(plain, 'rotate-customer');
    const [first, second] = [randomBytes(32), randomBytes(32)];
    const keyring = localKeyring('keyring');
    const body = markedBytes(300_000, 3);
    await clientFor(keyring).send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: body, SSECustomerAlgorithm: 'AES256', SSECustomerKey: first.toString('base64') }));
    const withKey = (key: Buffer) => ({ SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.toString('base64') });

    const toSecond = await rotateObject(clientFor(new CustomerKeyring(first)), { bucket, key: 'k' }, { to: new CustomerKeyring(second) });
    expect(toSecond).toMatchObject({ outcome: 'rotated', method: 'rewrap' });
    expect((await getBody(clientFor(keyring), bucket, 'k', withKey(second))).equals(body)).toBe(true);
    await expect(getBody(clientFor(keyring), bucket, 'k', withKey(first))).rejects.toMatchObject({ code: 'ERR_CUSTOMER_KEY_MISMATCH' });
    // Under the second key now: a rerun skips it.
    expect(await rotateObject(clientFor(new CustomerKeyring(second)), { bucket, key: 'k' }, { to: new CustomerKeyring(second) })).toMatchObject({ outcome: 'skipped', reason: 'already-rotated' });

    const toKeyring = await rotateObject(clientFor(new CustomerKeyring(second)), { bucket, key: 'k' }, { to: keyring });
    expect(toKeyring).toMatchObject({ outcome: 'rotated' });
    expect((await getBody(clientFor(keyring), bucket, 'k')).equals(body)).toBe(true);
    await expect(getBody(clientFor(keyring), bucket, 'k', withKey(second))).rejects.toMatchObject({ code: 'ERR_CUSTOMER_KEY_NOT_APPLICABLE' });
  });
});

describe('readers during a rotation', () => {
  it('a GetObject or HeadObject that meets a rewrite between its own requests restarts on the new object', { timeout: 120_000 }, async () => {
    const bucket = await freshBucket(plain, 'rotate-reader');
    const [old, target] = [localKeyring('old'), localKeyring('target')];
    const body = markedBytes(1024 * 1024, 7); // larger than the first read: the body needs a second, pinned request
    await clientFor(old).send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: body }));
    // The reader's own S3 client: after its first request for the object, the object is rewritten
    // (fresh data key, new ETag) before the reader's next request goes out.
    const readerS3 = s3Client(inject('s3'));
    let rewrites = 0;
    let armed = false;
    readerS3.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        if (armed) {
          armed = false;
          const rotated = await rotateObject(clientFor(target, [old]), { bucket, key: 'k' }, { to: target, mode: 'reencrypt' });
          expect(rotated).toMatchObject({ outcome: 'rotated', method: 'reencrypt' });
          rewrites++;
        }
        return result;
      },
      { step: 'deserialize', name: 'rewriteAfterFirstRequest' },
    );
    const reader = new EncryptingS3Client({ client: readerS3, keyring: new MultiKeyring({ generator: target, children: [old] }) });
    armed = true;
    expect((await getBody(reader, bucket, 'k')).equals(body)).toBe(true);
    armed = true;
    const head = await reader.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
    expect(head.ContentLength).toBe(body.length);
    expect(rewrites).toBe(2);
    // A condition of the caller's own still fails as S3 fails it.
    const { ETag } = await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
    await expect(reader.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', IfMatch: `"${'0'.repeat(32)}"` }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    expect(ETag).toBeDefined();
    readerS3.destroy();
  });
});

describe('full re-encryption', () => {
  it('rewrites objects with a fresh data key, keeping headers and tags; a rerun from the same start skips them', { timeout: 120_000 }, async () => {
    const bucket = await freshBucket(plain, 'reencrypt');
    const [old, target] = [localKeyring('old'), await transitKeyring()];
    const small = markedBytes(3000, 1);
    const large = markedBytes(7 * 1024 * 1024, 2);
    await clientFor(old).send(new PutObjectCommand({ Bucket: bucket, Key: 'small', Body: small, ContentType: 'x/y', Metadata: { m: '1' } }));
    await new Upload({ client: clientFor(old), params: { Bucket: bucket, Key: 'large', Body: large }, partSize: 5 * 1024 * 1024 }).done();
    await plain.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'small', Tagging: { TagSet: [{ Key: 't', Value: 'v' }] } }));
    const storedBefore = await getBody(plain, bucket, 'small');
    // Stores keep LastModified to the second: the run starts in a later second than the writes.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const startedAt = new Date();
    const client = clientFor(target, [old]);
    const summary = await rotateKeys(client, { bucket, to: target, mode: 'reencrypt', rewrittenSince: startedAt });
    expect(summary).toMatchObject({ rotated: 2, failed: 0 });
    expect((await getBody(plain, bucket, 'small')).equals(storedBefore)).toBe(false);
    expect((await getBody(clientFor(target), bucket, 'small')).equals(small)).toBe(true);
    expect((await getBody(clientFor(target), bucket, 'large')).equals(large)).toBe(true);
    expect(await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: 'small' }))).toMatchObject({ ContentType: 'x/y', Metadata: expect.objectContaining({ m: '1' }) });
    const tags = await plain.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'small' }));
    expect(tags.TagSet).toEqual([{ Key: 't', Value: 'v' }]);
    const rerun = await rotateKeys(client, { bucket, to: target, mode: 'reencrypt', rewrittenSince: startedAt });
    expect(rerun).toMatchObject({ rotated: 0, skippedBy: { 'already-rotated': 2 } });
  });
});
