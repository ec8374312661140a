import { describe, expect, it } from 'vitest';
import { unwrapFirst } from '../src/keyrings/unwrap-first.js';

const edk = (keyId: string) => ({ providerId: 'p', keyId, ciphertext: new Uint8Array(1) });

describe('unwrapFirst', () => {
  it('returns the first key that unwraps, after earlier failures', async () => {
    const key = new Uint8Array(32).fill(7);
    const result = await unwrapFirst([edk('a'), edk('b')], async (e) => (e.keyId === 'a' ? Promise.reject(new Error('no')) : key), (e) => e as Error);
    expect(result).toBe(key);
  });

  it('rejects with the first mapped failure when all fail, skipping failures mapped to undefined', async () => {
    const unwrap = async (e: { keyId: string }) => Promise.reject(new Error(e.keyId));
    await expect(unwrapFirst([edk('skip'), edk('b'), edk('c')], unwrap, (error) => ((error as Error).message === 'skip' ? undefined : new Error(`mapped ${(error as Error).message}`)))).rejects.toThrow(
      'mapped b',
    );
    await expect(unwrapFirst([edk('skip')], unwrap, () => undefined)).resolves.toBeUndefined();
  });

  it('resolves undefined with nothing to try', async () => {
    await expect(unwrapFirst([], async () => new Uint8Array(32), () => new Error('x'))).resolves.toBeUndefined();
  });
});

describe('unwrapFirst with a signal', () => {
  it('stops trying once the signal is aborted and rejects with its reason, not the failure', async () => {
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const tried: string[] = [];
    const unwrap = async (e: { keyId: string }) => {
      tried.push(e.keyId);
      controller.abort(reason);
      throw new Error('aborted request');
    };
    await expect(unwrapFirst([edk('a'), edk('b')], unwrap, (error) => error as Error, controller.signal)).rejects.toBe(reason);
    expect(tried).toEqual(['a']);
  });
});
