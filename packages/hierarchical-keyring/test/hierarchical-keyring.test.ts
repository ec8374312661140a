import { randomBytes } from 'node:crypto';
import { KeyringError, objectEncryptionContext, S3CryptError, type EncryptedDataKey } from '@s3crypt/client';
import { BranchKeyError, HierarchicalKeyring } from '@s3crypt/hierarchical-keyring';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { versionKey } from '../src/lib/names.js';
import { memoryStore } from './helpers.js';

const context = objectEncryptionContext('bucket', 'object');
const zeroed = (bytes: Uint8Array) => bytes.every((byte) => byte === 0);

async function rejection(promise: Promise<unknown>): Promise<S3CryptError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(S3CryptError);
  return error as S3CryptError;
}

async function setUp(cacheTtlMs = 60_000) {
  const fixture = memoryStore();
  await fixture.store.createBranchKey('orders');
  const keyring = new HierarchicalKeyring({ keyStore: fixture.store, branchKeyId: 'orders', cacheTtlMs });
  return { ...fixture, keyring };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('HierarchicalKeyring', () => {
  it('round-trips generated and given data keys, naming <id>:v<version>', async () => {
    const { keyring } = await setUp();
    const generated = await keyring.onEncrypt({ context });
    expect(generated.encryptedDataKeys).toEqual([{ providerId: 's3crypt-hierarchy', keyId: 'orders:v1', ciphertext: expect.any(Uint8Array) }]);
    expect(generated.encryptedDataKeys[0]!.ciphertext).toHaveLength(77);
    expect(Buffer.from((await keyring.onDecrypt({ context, encryptedDataKeys: generated.encryptedDataKeys }))!).equals(Buffer.from(generated.dataKey))).toBe(true);

    const given = randomBytes(32);
    const wrapped = await keyring.onEncrypt({ context, dataKey: given });
    expect(wrapped.dataKey).toBe(given);
    expect(Buffer.from((await keyring.onDecrypt({ context, encryptedDataKeys: wrapped.encryptedDataKeys }))!).equals(given)).toBe(true);
  });

  it('trusts every version of its branch key by prefix, and no other branch key', async () => {
    const { keyring } = await setUp();
    expect(keyring.kekMatchers()).toEqual([{ providerId: 's3crypt-hierarchy', keyId: 'orders:v', match: 'prefix' }]);
    const foreign: EncryptedDataKey[] = [
      { providerId: 's3crypt-hierarchy', keyId: 'orders-2:v1', ciphertext: new Uint8Array(77) },
      { providerId: 'raw-aes', keyId: 'orders:v1', ciphertext: new Uint8Array(77) },
    ];
    expect(await keyring.onDecrypt({ context, encryptedDataKeys: foreign })).toBeUndefined();
  });

  it('fails with ERR_KEY_UNWRAP_FAILED for another context, a tampered key or a relabelled version', async () => {
    const { keyring, store } = await setUp();
    const { encryptedDataKeys } = await keyring.onEncrypt({ context });
    const edk = encryptedDataKeys[0]!;
    await store.rotateBranchKey('orders');
    const tampered = Uint8Array.from(edk.ciphertext);
    tampered[40]! ^= 1;
    for (const [ctx, edks] of [
      [objectEncryptionContext('bucket', 'other'), encryptedDataKeys],
      [{ ...context, extra: 'x' }, encryptedDataKeys],
      [context, [{ ...edk, ciphertext: tampered }]],
      [context, [{ ...edk, keyId: 'orders:v2' }]],
      [context, [{ ...edk, keyId: 'orders:v01' }]],
    ] as const) {
      const error = await rejection(keyring.onDecrypt({ context: ctx, encryptedDataKeys: edks }));
      expect(error).toBeInstanceOf(KeyringError);
      expect(error.code).toBe('ERR_KEY_UNWRAP_FAILED');
      expect(error.message).not.toMatch(/[0-9a-f]{32}/);
    }
  });

  it('calls the protector once per branch key version while the cache is warm', async () => {
    const { keyring, protector } = await setUp();
    const calls = () => protector.encrypts + protector.decrypts;
    const before = calls();
    const written = [];
    for (let i = 0; i < 100; i++) written.push(await keyring.onEncrypt({ context: objectEncryptionContext('b', `k${i}`) }));
    for (const [i, result] of written.entries()) await keyring.onDecrypt({ context: objectEncryptionContext('b', `k${i}`), encryptedDataKeys: result.encryptedDataKeys });
    expect(calls() - before).toBe(1);
  });

  it('loads a branch key once for concurrent misses (single-flight) and reports hit or miss', async () => {
    const { keyring, protector } = await setUp();
    const outcomes: string[] = [];
    const observer = { cacheLookup: (outcome: 'hit' | 'miss') => outcomes.push(outcome) };
    const { encryptedDataKeys } = await keyring.onEncrypt({ context, observer });
    keyring.flush();
    const before = protector.decrypts;
    const keys = await Promise.all(Array.from({ length: 25 }, () => keyring.onDecrypt({ context, encryptedDataKeys, observer })));
    expect(protector.decrypts - before).toBe(1);
    expect(new Set(keys.map((key) => Buffer.from(key!).toString('hex'))).size).toBe(1);
    await keyring.onDecrypt({ context, encryptedDataKeys, observer });
    expect(outcomes[0]).toBe('miss');
    expect(outcomes.slice(1, 26)).toEqual(Array(25).fill('miss'));
    expect(outcomes.at(-1)).toBe('hit');
  });

  it('asks the protector again once the TTL is over, and after flush', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { keyring, protector } = await setUp(1_000);
    const { encryptedDataKeys } = await keyring.onEncrypt({ context });
    const decrypts = protector.decrypts;
    vi.advanceTimersByTime(999);
    await keyring.onDecrypt({ context, encryptedDataKeys });
    expect(protector.decrypts).toBe(decrypts);
    vi.advanceTimersByTime(1);
    await keyring.onDecrypt({ context, encryptedDataKeys });
    expect(protector.decrypts).toBe(decrypts + 1);
    keyring.flush();
    await keyring.onDecrypt({ context, encryptedDataKeys });
    expect(protector.decrypts).toBe(decrypts + 2);
  });

  it('zeroes every branch key the protector returned as soon as the cache holds its own copy', async () => {
    const { keyring, protector } = await setUp();
    await keyring.onEncrypt({ context });
    expect(protector.returned.length).toBeGreaterThan(0);
    expect(protector.returned.every(zeroed)).toBe(true);
  });

  it('uses the new version after a rotation (once the TTL is over or after flush), old objects stay readable', async () => {
    const { keyring, store } = await setUp();
    const old = await keyring.onEncrypt({ context });
    expect(await store.rotateBranchKey('orders')).toEqual({ branchKeyId: 'orders', version: 2 });
    expect((await keyring.onEncrypt({ context })).encryptedDataKeys[0]!.keyId).toBe('orders:v1');
    keyring.flush();
    const fresh = await keyring.onEncrypt({ context });
    expect(fresh.encryptedDataKeys[0]!.keyId).toBe('orders:v2');
    for (const result of [old, fresh]) {
      expect(Buffer.from((await keyring.onDecrypt({ context, encryptedDataKeys: result.encryptedDataKeys }))!).equals(Buffer.from(result.dataKey))).toBe(true);
    }
  });

  it('fails typed when the branch key does not exist or was deleted', async () => {
    const { store, bucket, keyring } = await setUp();
    const missing = new HierarchicalKeyring({ keyStore: store, branchKeyId: 'nope', cacheTtlMs: 1000 });
    const error = await rejection(missing.onEncrypt({ context }));
    expect(error).toBeInstanceOf(BranchKeyError);
    expect(error.code).toBe('ERR_BRANCH_KEY_NOT_FOUND');
    await expect(store.rotateBranchKey('nope')).rejects.toMatchObject({ code: 'ERR_BRANCH_KEY_NOT_FOUND' });

    const { encryptedDataKeys } = await keyring.onEncrypt({ context });
    keyring.flush();
    bucket.objects.delete(versionKey('branch-keys/', 'orders', 1));
    expect((await rejection(keyring.onDecrypt({ context, encryptedDataKeys }))).code).toBe('ERR_BRANCH_KEY_NOT_FOUND');
  });
});

describe('BranchKeyStore against a hostile store', () => {
  async function tamperedRead(edit: (text: string, bucket: ReturnType<typeof memoryStore>['bucket']) => string | undefined) {
    const { keyring, bucket, store, protector } = await setUp();
    await store.rotateBranchKey('orders');
    const { encryptedDataKeys } = await keyring.onEncrypt({ context: objectEncryptionContext('b', 'k') });
    keyring.flush();
    const v1 = versionKey('branch-keys/', 'orders', 1);
    const edited = edit(bucket.text(v1), bucket);
    if (edited !== undefined) bucket.objects.set(v1, new TextEncoder().encode(edited));
    const decrypts = protector.decrypts;
    const error = await rejection(new HierarchicalKeyring({ keyStore: store, branchKeyId: 'orders', cacheTtlMs: 1000 }).onDecrypt({
      context: objectEncryptionContext('b', 'k'),
      encryptedDataKeys: [{ ...encryptedDataKeys[0]!, keyId: 'orders:v1' }],
    }));
    return Object.assign(error, { protectorCalls: protector.decrypts - decrypts });
  }

  it('a version replaced by another version fails closed (ERR_BRANCH_KEY_INVALID)', async () => {
    const error = await tamperedRead((_, bucket) => bucket.text(versionKey('branch-keys/', 'orders', 2)));
    expect(error.code).toBe('ERR_BRANCH_KEY_INVALID');
    expect(error).toBeInstanceOf(BranchKeyError);
    expect((error as unknown as BranchKeyError).version).toBe(1);
  });

  it('a version whose JSON claims to be the one asked for, but wraps another, fails closed', async () => {
    const error = await tamperedRead((_, bucket) => bucket.text(versionKey('branch-keys/', 'orders', 2)).replace('"version":2', '"version":1'));
    expect(error.code).toBe('ERR_BRANCH_KEY_INVALID');
    expect((error.cause as S3CryptError).code).toBe('ERR_KEY_UNWRAP_FAILED');
  });

  it('an edited creation time fails closed: every field is bound', async () => {
    const error = await tamperedRead((text) => text.replace(/"createdAt":"\d{4}/, '"createdAt":"1999'));
    expect(error.code).toBe('ERR_BRANCH_KEY_INVALID');
  });

  it('malformed, oversized or extended objects fail closed without a protector call', async () => {
    for (const edit of [
      () => 'not json',
      (text: string) => text.replace('}', ',"extra":1}'),
      (text: string) => text.replace(/}$/, ',"extra":1}'),
      (text: string) => text.replace('"layout":1', '"layout":2'),
      (text: string) => text.replace('"version":1', '"version":"1"'),
      () => JSON.stringify({ padding: 'x'.repeat(70_000) }),
    ]) {
      const error = await tamperedRead(edit);
      expect(error.code).toBe('ERR_BRANCH_KEY_INVALID');
      expect(error.protectorCalls).toBe(0);
    }
  });

  it('a branch key copied from another key store (same protector) fails closed', async () => {
    const masterKey = randomBytes(32);
    const ours = memoryStore({ name: 'store-a', masterKey });
    const theirs = memoryStore({ name: 'store-b', masterKey });
    await ours.store.createBranchKey('orders');
    await theirs.store.createBranchKey('orders');
    const keyring = new HierarchicalKeyring({ keyStore: ours.store, branchKeyId: 'orders', cacheTtlMs: 1000 });
    const { encryptedDataKeys } = await keyring.onEncrypt({ context });
    keyring.flush();
    const v1 = versionKey('branch-keys/', 'orders', 1);
    ours.bucket.objects.set(v1, new TextEncoder().encode(theirs.bucket.text(v1).replace('"keyStore":"store-b"', '"keyStore":"store-a"')));
    expect((await rejection(keyring.onDecrypt({ context, encryptedDataKeys }))).code).toBe('ERR_BRANCH_KEY_INVALID');
  });

  it('a store that stops listing the newest version does not roll this process back to an older one', async () => {
    const { keyring, store, bucket } = await setUp();
    await store.rotateBranchKey('orders');
    keyring.flush();
    expect((await keyring.onEncrypt({ context })).encryptedDataKeys[0]!.keyId).toBe('orders:v2');
    bucket.hidden.add(versionKey('branch-keys/', 'orders', 2));
    keyring.flush();
    expect((await keyring.onEncrypt({ context })).encryptedDataKeys[0]!.keyId).toBe('orders:v2');
    expect(await store.activeVersion('orders')).toBe(2);
  });

  it('concurrent rotations each create exactly one version, numbered without gaps or repeats', async () => {
    const { store, bucket } = await setUp();
    const created = await Promise.all(Array.from({ length: 6 }, () => store.rotateBranchKey('orders')));
    expect(created.map((c) => c.version).sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7]);
    expect([...bucket.objects.keys()].filter((key) => key.startsWith('branch-keys/orders/'))).toHaveLength(7);
    expect(await store.activeVersion('orders')).toBe(7);
  });

  it('createBranchKey creates once; later calls report created: false and change nothing', async () => {
    const { store, bucket, protector } = memoryStore();
    const results = await Promise.all([store.createBranchKey('orders'), store.createBranchKey('orders'), store.createBranchKey('orders')]);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const object = bucket.text(versionKey('branch-keys/', 'orders', 1));
    const encrypts = protector.encrypts;
    expect(await store.createBranchKey('orders')).toEqual({ branchKeyId: 'orders', version: 1, created: false });
    expect(bucket.text(versionKey('branch-keys/', 'orders', 1))).toBe(object);
    expect(protector.encrypts).toBe(encrypts);
    expect((await store.createBranchKey()).branchKeyId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses bad options and names as API misuse', () => {
    const { store } = memoryStore();
    expect(() => new HierarchicalKeyring({ keyStore: store, branchKeyId: 'orders' } as never)).toThrow(TypeError);
    expect(() => new HierarchicalKeyring({ keyStore: store, branchKeyId: 'a/b', cacheTtlMs: 1 })).toThrow(TypeError);
    expect(() => new HierarchicalKeyring({ keyStore: store, branchKeyId: 'a:b', cacheTtlMs: 1 })).toThrow(TypeError);
    expect(() => new HierarchicalKeyring({ keyStore: store, branchKeyId: 'a', cacheTtlMs: 0 })).toThrow(TypeError);
    expect(() => new HierarchicalKeyring({ keyStore: store, branchKeyId: 'a', cacheTtlMs: 1, maxCacheEntries: 0 })).toThrow(TypeError);
    expect(() => memoryStore({ prefix: 'no-slash' })).toThrow(TypeError);
  });
});

describe('failures of the key store bucket and aborts', () => {
  it('an S3 failure is ERR_BRANCH_KEY_STORE_FAILED with the S3 error as cause', async () => {
    const { keyring, bucket } = await setUp();
    const send = bucket.client.send;
    const denied = Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    bucket.client.send = async () => Promise.reject(denied);
    const error = await rejection(keyring.onEncrypt({ context }));
    expect(error).toBeInstanceOf(BranchKeyError);
    expect(error.code).toBe('ERR_BRANCH_KEY_STORE_FAILED');
    expect(error.cause).toBe(denied);
    expect(error.message).toContain('HTTP 403');
    bucket.client.send = send;
    expect((await keyring.onEncrypt({ context })).encryptedDataKeys[0]!.keyId).toBe('orders:v1');
  });

  it("an aborted request rejects with the signal's reason; the shared load still serves the others", async () => {
    const { keyring, protector } = await setUp();
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const aborted = keyring.onEncrypt({ context, signal: controller.signal });
    const other = keyring.onEncrypt({ context });
    controller.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    expect((await other).encryptedDataKeys[0]!.keyId).toBe('orders:v1');
    expect(protector.decrypts).toBe(1);
    await expect(keyring.onDecrypt({ context, encryptedDataKeys: (await other).encryptedDataKeys, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });
});
