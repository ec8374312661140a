import { describe, expect, it } from 'vitest';
import { TtlCache } from '../src/lib/ttl-cache.js';

function zeroingCache(options: { ttlMs?: number; maxEntries?: number } = {}) {
  let now = 1_000;
  const cache = new TtlCache<number, Buffer>({ ttlMs: options.ttlMs ?? 100, maxEntries: options.maxEntries ?? 2, dispose: (key) => key.fill(0), now: () => now });
  return { cache, advance: (ms: number) => (now += ms) };
}
const key = (byte: number) => Buffer.alloc(32, byte);
const zeroed = (buffer: Buffer) => buffer.every((byte) => byte === 0);

describe('TtlCache (the branch key cache)', () => {
  it('serves an entry until its TTL is over, then zeroes it and misses', async () => {
    const { cache, advance } = zeroingCache({ ttlMs: 100 });
    const k = key(7);
    await cache.load(1, async () => k);
    advance(99);
    expect(cache.peek(1)?.value).toBe(k);
    advance(1);
    expect(cache.peek(1)).toBeUndefined();
    expect(zeroed(k)).toBe(true);
    expect(cache.size).toBe(0);
  });

  it('a hit does not extend the TTL', async () => {
    const { cache, advance } = zeroingCache({ ttlMs: 100 });
    await cache.load(1, async () => key(1));
    advance(60);
    expect(cache.peek(1)).toBeDefined();
    advance(60);
    expect(cache.peek(1)).toBeUndefined();
  });

  it('is bounded: the least recently used entry is evicted and zeroed', async () => {
    const { cache } = zeroingCache({ maxEntries: 2 });
    const [a, b, c] = [key(1), key(2), key(3)];
    const entryA = await cache.load(1, async () => a);
    await cache.load(2, async () => b);
    cache.peek(1); // 1 is now more recent than 2
    await cache.load(3, async () => c);
    expect(cache.size).toBe(2);
    expect(zeroed(b)).toBe(true);
    expect(zeroed(a) || zeroed(c)).toBe(false);
    expect(entryA.live).toBe(true);
    expect(cache.peek(2)).toBeUndefined();
  });

  it('flush zeroes every entry, and a load under way is zeroed instead of cached', async () => {
    const { cache } = zeroingCache();
    const a = key(1);
    const entry = await cache.load(1, async () => a);
    let release!: (value: Buffer) => void;
    const late = key(2);
    const pending = cache.load(2, () => new Promise<Buffer>((resolve) => (release = resolve)));
    cache.flush();
    expect(zeroed(a)).toBe(true);
    expect(entry.live).toBe(false);
    release(late);
    const lateEntry = await pending;
    expect(lateEntry.live).toBe(false);
    expect(zeroed(late)).toBe(true);
    expect(cache.size).toBe(0);
  });

  it('coalesces concurrent loads of one key into a single loader call (single-flight)', async () => {
    const { cache } = zeroingCache();
    let calls = 0;
    let release!: (value: Buffer) => void;
    const loader = () => {
      calls++;
      return new Promise<Buffer>((resolve) => (release = resolve));
    };
    const waiting = Array.from({ length: 20 }, () => cache.load(1, loader));
    expect(calls).toBe(1);
    release(key(5));
    const entries = await Promise.all(waiting);
    expect(new Set(entries).size).toBe(1);
    expect(cache.peek(1)).toBe(entries[0]);
    expect(calls).toBe(1);
  });

  it('does not cache a failed load, and the next load tries again', async () => {
    const { cache } = zeroingCache();
    await expect(cache.load(1, async () => Promise.reject(new Error('kms down')))).rejects.toThrow('kms down');
    expect(cache.peek(1)).toBeUndefined();
    const entry = await cache.load(1, async () => key(1));
    expect(entry.live).toBe(true);
  });
});
