import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KeyringError } from '../src/errors.js';
import { CachingKeyring, type CachingKeyringOptions } from '../src/keyrings/caching.js';
import { serializeContext } from '../src/keyrings/context.js';
import {
  objectEncryptionContext,
  type DecryptRequest,
  type EncryptRequest,
  type EncryptedDataKey,
  type EncryptionContext,
  type Keyring,
  type KeyringObserver,
} from '../src/keyrings/keyring.js';

const context = objectEncryptionContext('bucket', 'object');

/**
 * A counting inner keyring. It remembers which context each wrapped key was made for and refuses any
 * other, as real keyrings do; it returns a new buffer per unwrap and keeps a reference to each, so a
 * test can see whether the cache zeroed the very buffer it was given. `hold()` makes unwraps wait.
 */
function countingKeyring() {
  const issued = new Map<string, { dataKey: Buffer; context: string }>();
  const returned: Buffer[] = [];
  const decrypts: DecryptRequest[] = [];
  const encrypts: EncryptRequest[] = [];
  let gate: Promise<void> | undefined;
  let failure: Error | undefined;
  let wrongLength = false;
  const keyring: Keyring = {
    async onEncrypt(request) {
      encrypts.push(request);
      const dataKey = request.dataKey ? Buffer.from(request.dataKey) : randomBytes(32);
      const ciphertext = randomBytes(16);
      issued.set(ciphertext.toString('hex'), { dataKey: Buffer.from(dataKey), context: serializeContext(request.context).toString('hex') });
      return { dataKey, encryptedDataKeys: [{ providerId: 'counting', keyId: 'kek-1', ciphertext }] };
    },
    async onDecrypt(request) {
      decrypts.push(request);
      await gate;
      if (failure) throw failure;
      const edk = request.encryptedDataKeys.find((candidate) => candidate.providerId === 'counting');
      if (!edk) return undefined;
      const wrapped = issued.get(Buffer.from(edk.ciphertext).toString('hex'));
      if (!wrapped || wrapped.context !== serializeContext(request.context).toString('hex')) {
        throw new KeyringError('ERR_KEY_UNWRAP_FAILED', 'counting keyring: wrong context or unknown key');
      }
      const dataKey = wrongLength ? Buffer.alloc(16, 7) : Buffer.from(wrapped.dataKey);
      returned.push(dataKey);
      return dataKey;
    },
    kekMatchers: () => [{ providerId: 'counting', keyId: 'kek-1' }],
  };
  return {
    keyring,
    decrypts,
    encrypts,
    returned,
    /** Unwraps wait until the returned function is called. */
    hold(): () => void {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
    failWith(error: Error | undefined) {
      failure = error;
    },
    returnWrongLength() {
      wrongLength = true;
    },
  };
}

async function wrapped(inner: Keyring, on: EncryptionContext = context): Promise<{ edk: EncryptedDataKey; dataKey: Buffer }> {
  const { dataKey, encryptedDataKeys } = await inner.onEncrypt({ context: on });
  return { edk: encryptedDataKeys[0]!, dataKey: Buffer.from(dataKey) };
}

function caching(inner: Keyring, options: Partial<CachingKeyringOptions> = {}): CachingKeyring {
  return new CachingKeyring({ keyring: inner, maxAgeMs: 60_000, ...options });
}

const isZero = (bytes: Uint8Array): boolean => bytes.every((byte) => byte === 0);

afterEach(() => {
  vi.useRealTimers();
});

describe('CachingKeyring reads', () => {
  it('a second read of the same wrapped key under the same context is a hit: one inner call, a fresh copy each time', async () => {
    const inner = countingKeyring();
    const { edk, dataKey } = await wrapped(inner.keyring);
    const lookups: string[] = [];
    const observer: KeyringObserver = { cacheLookup: (outcome, seen) => lookups.push(`${outcome}:${seen === edk}`) };
    const keyring = caching(inner.keyring);

    const first = await keyring.onDecrypt({ context, encryptedDataKeys: [edk], observer });
    const second = await keyring.onDecrypt({ context, encryptedDataKeys: [edk], observer });
    expect(Buffer.from(first!).equals(dataKey)).toBe(true);
    expect(Buffer.from(second!).equals(dataKey)).toBe(true);
    expect(inner.decrypts).toHaveLength(1);
    expect(first).not.toBe(second);
    expect(first).not.toBe(inner.returned[0]);
    expect(second).not.toBe(inner.returned[0]);
    expect(lookups).toEqual(['miss:true', 'hit:true']);
    expect(keyring.stats()).toEqual({ hits: 1, coalesced: 0, misses: 1, innerCalls: 1, evictions: 0, entries: 1 });

    // A caller zeroes its copy when done; the cache's own copy is untouched.
    first!.fill(0);
    second!.fill(0);
    expect(Buffer.from((await keyring.onDecrypt({ context, encryptedDataKeys: [edk] }))!).equals(dataKey)).toBe(true);
    expect(inner.decrypts).toHaveLength(1);
  });

  it('forwards the caller\'s context and observer to the inner keyring', async () => {
    const inner = countingKeyring();
    const { edk } = await wrapped(inner.keyring);
    const observer: KeyringObserver = {};
    await caching(inner.keyring).onDecrypt({ context, encryptedDataKeys: [edk], observer });
    expect(inner.decrypts[0]).toMatchObject({ context, encryptedDataKeys: [edk], observer });
  });

  it('binds the full context: the same wrapped key under another context is a miss that goes to the inner keyring (and fails there)', async () => {
    const inner = countingKeyring();
    const { edk } = await wrapped(inner.keyring);
    const keyring = caching(inner.keyring);
    await keyring.onDecrypt({ context, encryptedDataKeys: [edk] });
    const others = [
      objectEncryptionContext('bucket', 'other-object'),
      objectEncryptionContext('other-bucket', 'object'),
      objectEncryptionContext('bucket', 'object', 1),
      objectEncryptionContext('bucket', 'object', 2, { tenant: 'a' }),
      { ...context, 's3crypt:key': 'objec', t: '' },
    ];
    for (const [index, other] of others.entries()) {
      await expect(keyring.onDecrypt({ context: other, encryptedDataKeys: [edk] })).rejects.toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
      expect(inner.decrypts).toHaveLength(2 + index);
    }
    // Entry order does not matter: the context is sorted by key.
    const reordered = Object.fromEntries(Object.entries(context).reverse());
    await keyring.onDecrypt({ context: reordered, encryptedDataKeys: [edk] });
    expect(inner.decrypts).toHaveLength(1 + others.length);
  });

  it('length-prefixes every field: contexts or key ids that concatenate alike do not share an entry', async () => {
    const inner = countingKeyring();
    const keyring = caching(inner.keyring);
    const a = await wrapped(inner.keyring, { ab: 'c' });
    await keyring.onDecrypt({ context: { ab: 'c' }, encryptedDataKeys: [a.edk] });
    await expect(keyring.onDecrypt({ context: { a: 'bc' }, encryptedDataKeys: [a.edk] })).rejects.toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
    expect(inner.decrypts).toHaveLength(2);
    // Same ciphertext, another KEK name: not the cached key's wrapped key.
    const renamed = { ...a.edk, keyId: 'kek-2' };
    await keyring.onDecrypt({ context: { ab: 'c' }, encryptedDataKeys: [renamed] });
    expect(inner.decrypts).toHaveLength(3);
  });

  it('evicts the least recently used entry when full, zeroing the buffer the inner keyring returned', async () => {
    const inner = countingKeyring();
    const keyring = caching(inner.keyring, { maxEntries: 2 });
    const [a, b, c] = [await wrapped(inner.keyring), await wrapped(inner.keyring), await wrapped(inner.keyring)];
    await keyring.onDecrypt({ context, encryptedDataKeys: [a.edk] });
    await keyring.onDecrypt({ context, encryptedDataKeys: [b.edk] });
    await keyring.onDecrypt({ context, encryptedDataKeys: [a.edk] }); // a is now the most recently used
    const [storedA, storedB] = inner.returned;
    expect(isZero(storedA!) || isZero(storedB!)).toBe(false);

    await keyring.onDecrypt({ context, encryptedDataKeys: [c.edk] });
    expect(isZero(storedB!)).toBe(true);
    expect(storedA!.equals(a.dataKey)).toBe(true);
    expect(keyring.stats()).toMatchObject({ evictions: 1, entries: 2 });
    await keyring.onDecrypt({ context, encryptedDataKeys: [a.edk] });
    expect(inner.decrypts).toHaveLength(3);
    expect(Buffer.from((await keyring.onDecrypt({ context, encryptedDataKeys: [b.edk] }))!).equals(b.dataKey)).toBe(true);
    expect(inner.decrypts).toHaveLength(4);
  });

  it('drops and zeroes an entry when maxAgeMs runs out, counted from the unwrap: being used does not extend it', async () => {
    vi.useFakeTimers();
    const inner = countingKeyring();
    const { edk } = await wrapped(inner.keyring);
    const keyring = caching(inner.keyring, { maxAgeMs: 1000 });
    await keyring.onDecrypt({ context, encryptedDataKeys: [edk] });
    vi.advanceTimersByTime(999);
    await keyring.onDecrypt({ context, encryptedDataKeys: [edk] });
    expect(inner.decrypts).toHaveLength(1);
    expect(isZero(inner.returned[0]!)).toBe(false);

    vi.advanceTimersByTime(1);
    // Nobody asked again: the timer alone zeroed it.
    expect(isZero(inner.returned[0]!)).toBe(true);
    expect(keyring.stats()).toMatchObject({ entries: 0, evictions: 1 });
    await keyring.onDecrypt({ context, encryptedDataKeys: [edk] });
    expect(inner.decrypts).toHaveLength(2);
  });

  it('drops and zeroes an entry once it was handed out maxUses times (the unwrap itself counts as one)', async () => {
    const inner = countingKeyring();
    const { edk } = await wrapped(inner.keyring);
    const keyring = caching(inner.keyring, { maxUses: 2 });
    await keyring.onDecrypt({ context, encryptedDataKeys: [edk] });
    await keyring.onDecrypt({ context, encryptedDataKeys: [edk] });
    expect(isZero(inner.returned[0]!)).toBe(true);
    expect(keyring.stats()).toMatchObject({ hits: 1, entries: 0, evictions: 1 });
    await keyring.onDecrypt({ context, encryptedDataKeys: [edk] });
    expect(inner.decrypts).toHaveLength(2);

    // maxUses 1 caches nothing, and zeroes the inner keyring's buffer at once.
    const once = caching(inner.keyring, { maxUses: 1 });
    const key = await once.onDecrypt({ context, encryptedDataKeys: [edk] });
    expect(isZero(key!)).toBe(false);
    expect(isZero(inner.returned.at(-1)!)).toBe(true);
    expect(once.stats().entries).toBe(0);
  });

  it('flush() zeroes and drops every entry; the next read asks the inner keyring', async () => {
    const inner = countingKeyring();
    const keyring = caching(inner.keyring);
    const keys = [await wrapped(inner.keyring), await wrapped(inner.keyring)];
    for (const { edk } of keys) await keyring.onDecrypt({ context, encryptedDataKeys: [edk] });
    expect(inner.returned.some(isZero)).toBe(false);
    keyring.flush();
    expect(inner.returned.every(isZero)).toBe(true);
    expect(keyring.stats()).toMatchObject({ entries: 0, evictions: 0 });
    await keyring.onDecrypt({ context, encryptedDataKeys: [keys[0]!.edk] });
    expect(inner.decrypts).toHaveLength(3);
  });

  it('an unwrap under way during flush() still answers its callers but is not cached', async () => {
    const inner = countingKeyring();
    const { edk, dataKey } = await wrapped(inner.keyring);
    const keyring = caching(inner.keyring);
    const release = inner.hold();
    const pending = keyring.onDecrypt({ context, encryptedDataKeys: [edk] });
    keyring.flush();
    release();
    expect(Buffer.from((await pending)!).equals(dataKey)).toBe(true);
    expect(keyring.stats().entries).toBe(0);
    expect(isZero(inner.returned[0]!)).toBe(true);
  });

  it('single-flight: ten concurrent misses for the same key share one inner call, each caller gets its own copy', async () => {
    const inner = countingKeyring();
    const { edk, dataKey } = await wrapped(inner.keyring);
    const keyring = caching(inner.keyring);
    const lookups: string[] = [];
    const observer: KeyringObserver = { cacheLookup: (outcome) => lookups.push(outcome) };
    const release = inner.hold();
    const readers = Array.from({ length: 10 }, () => keyring.onDecrypt({ context, encryptedDataKeys: [edk], observer }));
    await Promise.resolve();
    expect(inner.decrypts).toHaveLength(1);
    release();
    const keys = await Promise.all(readers);
    expect(inner.decrypts).toHaveLength(1);
    expect(keys.every((key) => Buffer.from(key!).equals(dataKey))).toBe(true);
    expect(new Set(keys).size).toBe(10);
    expect(keys).not.toContain(inner.returned[0]);
    expect(lookups.filter((outcome) => outcome === 'miss')).toHaveLength(1);
    expect(lookups.filter((outcome) => outcome === 'hit')).toHaveLength(9);
    expect(keyring.stats()).toEqual({ hits: 0, coalesced: 9, misses: 1, innerCalls: 1, evictions: 0, entries: 1 });
  });

  it('concurrent misses for different keys or contexts do not share a call', async () => {
    const inner = countingKeyring();
    const a = await wrapped(inner.keyring);
    const b = await wrapped(inner.keyring);
    const keyring = caching(inner.keyring);
    const release = inner.hold();
    const reads = [
      keyring.onDecrypt({ context, encryptedDataKeys: [a.edk] }),
      keyring.onDecrypt({ context, encryptedDataKeys: [b.edk] }),
      keyring.onDecrypt({ context: objectEncryptionContext('bucket', 'elsewhere'), encryptedDataKeys: [a.edk] }),
    ];
    release();
    const settled = await Promise.allSettled(reads);
    expect(inner.decrypts).toHaveLength(3);
    expect(settled.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
  });

  it('a failed inner call fails every waiter with the same error and is not cached', async () => {
    const inner = countingKeyring();
    const { edk, dataKey } = await wrapped(inner.keyring);
    const keyring = caching(inner.keyring);
    const failure = new KeyringError('ERR_KEY_UNWRAP_FAILED', 'service said no');
    inner.failWith(failure);
    const release = inner.hold();
    const readers = Array.from({ length: 5 }, () => keyring.onDecrypt({ context, encryptedDataKeys: [edk] }));
    release();
    for (const result of await Promise.allSettled(readers)) expect(result).toEqual({ status: 'rejected', reason: failure });
    expect(inner.decrypts).toHaveLength(1);
    expect(keyring.stats().entries).toBe(0);

    inner.failWith(undefined);
    expect(Buffer.from((await keyring.onDecrypt({ context, encryptedDataKeys: [edk] }))!).equals(dataKey)).toBe(true);
    expect(inner.decrypts).toHaveLength(2);
  });

  it('"not my key" (undefined) is not cached', async () => {
    const inner = countingKeyring();
    const keyring = caching(inner.keyring);
    const foreign: EncryptedDataKey = { providerId: 'someone-else', keyId: 'k', ciphertext: new Uint8Array(8) };
    expect(await keyring.onDecrypt({ context, encryptedDataKeys: [foreign] })).toBeUndefined();
    expect(await keyring.onDecrypt({ context, encryptedDataKeys: [foreign] })).toBeUndefined();
    expect(inner.decrypts).toHaveLength(2);
    expect(keyring.stats().entries).toBe(0);
  });

  it('tries each wrapped key in turn and caches each on its own', async () => {
    const inner = countingKeyring();
    const { edk, dataKey } = await wrapped(inner.keyring);
    const keyring = caching(inner.keyring);
    const foreign: EncryptedDataKey = { providerId: 'someone-else', keyId: 'k', ciphertext: new Uint8Array(8) };
    expect(Buffer.from((await keyring.onDecrypt({ context, encryptedDataKeys: [foreign, edk] }))!).equals(dataKey)).toBe(true);
    expect(inner.decrypts.map((request) => request.encryptedDataKeys)).toEqual([[foreign], [edk]]);
    expect(Buffer.from((await keyring.onDecrypt({ context, encryptedDataKeys: [edk] }))!).equals(dataKey)).toBe(true);
    expect(inner.decrypts).toHaveLength(2);
  });

  it('a data key of the wrong length from the inner keyring fails typed, zeroed and uncached', async () => {
    const inner = countingKeyring();
    const { edk } = await wrapped(inner.keyring);
    inner.returnWrongLength();
    const keyring = caching(inner.keyring);
    await expect(keyring.onDecrypt({ context, encryptedDataKeys: [edk] })).rejects.toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
    expect(isZero(inner.returned[0]!)).toBe(true);
    expect(keyring.stats().entries).toBe(0);
  });
});

describe('CachingKeyring and abort signals', () => {
  it('an already aborted signal rejects with its reason, even for a cached key, and asks no one', async () => {
    const inner = countingKeyring();
    const { edk } = await wrapped(inner.keyring);
    const keyring = caching(inner.keyring);
    await keyring.onDecrypt({ context, encryptedDataKeys: [edk] });
    const reason = new Error('caller gave up');
    await expect(keyring.onDecrypt({ context, encryptedDataKeys: [edk], signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(keyring.onEncrypt({ context, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(inner.decrypts).toHaveLength(1);
    expect(inner.encrypts).toHaveLength(1);
  });

  it('one waiter\'s abort rejects that waiter at once; the shared call goes on, unaborted, for the others', async () => {
    const inner = countingKeyring();
    const { edk, dataKey } = await wrapped(inner.keyring);
    const keyring = caching(inner.keyring);
    const release = inner.hold();
    const impatient = new AbortController();
    const first = keyring.onDecrypt({ context, encryptedDataKeys: [edk], signal: impatient.signal });
    const others = [keyring.onDecrypt({ context, encryptedDataKeys: [edk] }), keyring.onDecrypt({ context, encryptedDataKeys: [edk], signal: new AbortController().signal })];
    const reason = new Error('this caller gave up');
    impatient.abort(reason);
    await expect(first).rejects.toBe(reason);
    // The inner call is the first caller's, yet it never saw that caller's signal.
    expect(inner.decrypts).toHaveLength(1);
    expect(inner.decrypts[0]!.signal).not.toBe(impatient.signal);
    expect(inner.decrypts[0]!.signal?.aborted).toBe(false);
    release();
    for (const key of await Promise.all(others)) expect(Buffer.from(key!).equals(dataKey)).toBe(true);
    expect(keyring.stats()).toMatchObject({ innerCalls: 1, entries: 1 });
  });

  it('once every waiter has aborted, the shared call is aborted, nothing is cached, and the next caller starts afresh', async () => {
    const inner = countingKeyring();
    const { edk, dataKey } = await wrapped(inner.keyring);
    const keyring = caching(inner.keyring);
    const release = inner.hold();
    const controllers = [new AbortController(), new AbortController()];
    const readers = controllers.map((controller) => keyring.onDecrypt({ context, encryptedDataKeys: [edk], signal: controller.signal }));
    controllers[0]!.abort();
    expect(inner.decrypts[0]!.signal?.aborted).toBe(false);
    controllers[1]!.abort();
    expect(inner.decrypts[0]!.signal?.aborted).toBe(true);
    for (const [index, reader] of readers.entries()) await expect(reader).rejects.toBe(controllers[index]!.signal.reason);

    // A caller arriving now does not join the cancelled call.
    const fresh = keyring.onDecrypt({ context, encryptedDataKeys: [edk] });
    expect(inner.decrypts).toHaveLength(2);
    release();
    expect(Buffer.from((await fresh)!).equals(dataKey)).toBe(true);
    // This fake ignores its signal and answers anyway: the abandoned call's key is zeroed, not cached.
    expect(isZero(inner.returned[0]!)).toBe(true);
    expect(keyring.stats().entries).toBe(1);
  });
});

describe('CachingKeyring writes', () => {
  it('passes every write through by default: a fresh data key each time', async () => {
    const inner = countingKeyring();
    const keyring = caching(inner.keyring);
    const lookups: string[] = [];
    const observer: KeyringObserver = { cacheLookup: (outcome) => lookups.push(outcome) };
    const first = await keyring.onEncrypt({ context, observer });
    const second = await keyring.onEncrypt({ context, observer });
    expect(Buffer.from(first.dataKey).equals(Buffer.from(second.dataKey))).toBe(false);
    expect(inner.encrypts).toHaveLength(2);
    expect(inner.encrypts[0]!.observer).toBe(observer);
    expect(lookups).toEqual([]);
    expect(keyring.stats()).toMatchObject({ hits: 0, misses: 0, innerCalls: 2, entries: 0 });
  });

  it('with cacheGeneratedKeys, writes under the same full context share one generated key, at most maxUses times', async () => {
    const inner = countingKeyring();
    const keyring = caching(inner.keyring, { cacheGeneratedKeys: { maxUses: 3 } });
    const lookups: string[] = [];
    const observer: KeyringObserver = { cacheLookup: (outcome, edk) => lookups.push(`${outcome}:${edk === undefined}`) };
    const results = [];
    for (let write = 0; write < 4; write++) results.push(await keyring.onEncrypt({ context, observer }));
    const [first, second, third, fourth] = results.map((result) => ({ key: Buffer.from(result.dataKey), edks: result.encryptedDataKeys }));
    expect(second!.key.equals(first!.key) && third!.key.equals(first!.key)).toBe(true);
    const described = (edks: readonly EncryptedDataKey[]) => edks.map((edk) => `${edk.providerId}/${edk.keyId}/${Buffer.from(edk.ciphertext).toString('hex')}`);
    expect(described(second!.edks)).toEqual(described(first!.edks));
    expect(described(third!.edks)).toEqual(described(first!.edks));
    expect(fourth!.key.equals(first!.key)).toBe(false);
    expect(inner.encrypts).toHaveLength(2);
    expect(lookups).toEqual(['miss:true', 'hit:true', 'hit:true', 'miss:true']);
    // Each caller owns and zeroes its key: zeroing one does not touch the others or the cache.
    results[0]!.dataKey.fill(0);
    expect(Buffer.from(results[1]!.dataKey).equals(second!.key)).toBe(true);
    expect(results[1]!.dataKey).not.toBe(results[2]!.dataKey);
  });

  it('never reuses a generated key for another context, nor caches a write that brings its own data key', async () => {
    const inner = countingKeyring();
    const keyring = caching(inner.keyring, { cacheGeneratedKeys: { maxUses: 10 } });
    const first = await keyring.onEncrypt({ context });
    const elsewhere = await keyring.onEncrypt({ context: objectEncryptionContext('bucket', 'other-object') });
    expect(Buffer.from(elsewhere.dataKey).equals(Buffer.from(first.dataKey))).toBe(false);
    const given = randomBytes(32);
    await keyring.onEncrypt({ context, dataKey: given });
    await keyring.onEncrypt({ context, dataKey: given });
    expect(inner.encrypts).toHaveLength(4);
  });

  it('generated keys expire after cacheGeneratedKeys.maxAgeMs, and flush() drops them', async () => {
    vi.useFakeTimers();
    const inner = countingKeyring();
    const keyring = caching(inner.keyring, { maxAgeMs: 60_000, cacheGeneratedKeys: { maxUses: 100, maxAgeMs: 1000 } });
    await keyring.onEncrypt({ context });
    await keyring.onEncrypt({ context });
    expect(inner.encrypts).toHaveLength(1);
    vi.advanceTimersByTime(1000);
    await keyring.onEncrypt({ context });
    expect(inner.encrypts).toHaveLength(2);
    keyring.flush();
    await keyring.onEncrypt({ context });
    expect(inner.encrypts).toHaveLength(3);
  });
});

describe('CachingKeyring options and delegation', () => {
  const inner = countingKeyring().keyring;
  it.each([
    ['no options', undefined],
    ['no keyring', { maxAgeMs: 1000 }],
    ['a keyring without onDecrypt', { keyring: { onEncrypt: inner.onEncrypt }, maxAgeMs: 1000 }],
    ['no maxAgeMs', { keyring: inner }],
    ['maxAgeMs 0', { keyring: inner, maxAgeMs: 0 }],
    ['maxAgeMs negative', { keyring: inner, maxAgeMs: -5 }],
    ['maxAgeMs fractional', { keyring: inner, maxAgeMs: 1.5 }],
    ['maxAgeMs NaN', { keyring: inner, maxAgeMs: Number.NaN }],
    ['maxAgeMs Infinity', { keyring: inner, maxAgeMs: Number.POSITIVE_INFINITY }],
    ['maxAgeMs beyond a timer', { keyring: inner, maxAgeMs: 2 ** 31 }],
    ['maxAgeMs a string', { keyring: inner, maxAgeMs: '1000' }],
    ['maxEntries 0', { keyring: inner, maxAgeMs: 1000, maxEntries: 0 }],
    ['maxUses 0', { keyring: inner, maxAgeMs: 1000, maxUses: 0 }],
    ['cacheGeneratedKeys true', { keyring: inner, maxAgeMs: 1000, cacheGeneratedKeys: true }],
    ['cacheGeneratedKeys without maxUses', { keyring: inner, maxAgeMs: 1000, cacheGeneratedKeys: {} }],
    ['cacheGeneratedKeys.maxAgeMs 0', { keyring: inner, maxAgeMs: 1000, cacheGeneratedKeys: { maxUses: 2, maxAgeMs: 0 } }],
  ])('refuses %s with a TypeError', (_name, options) => {
    expect(() => new CachingKeyring(options as unknown as CachingKeyringOptions)).toThrow(TypeError);
  });

  it('accepts the largest timer delay', () => {
    expect(() => new CachingKeyring({ keyring: inner, maxAgeMs: 2 ** 31 - 1 })).not.toThrow();
  });

  it('kekMatchers() are the inner keyring\'s, or undefined when it cannot name them', () => {
    expect(caching(inner).kekMatchers()).toEqual([{ providerId: 'counting', keyId: 'kek-1' }]);
    expect(caching({ onEncrypt: inner.onEncrypt, onDecrypt: inner.onDecrypt }).kekMatchers()).toBeUndefined();
  });
});
