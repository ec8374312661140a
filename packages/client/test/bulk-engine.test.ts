// The bulk engine (forEachObject, which rotateKeys and verifyObjects run on) with a manifest: how
// many steps run at once, the checkpoint as objects finish out of order or fail, and how a rejected
// step ends the run. Listing a real bucket: test/object-inspection-minio.test.ts, test/rotation-*.
import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { forEachObject, type BulkObject } from '../src/bulk/for-each-object.js';
import { LowWaterMark } from '../src/bulk/low-water-mark.js';

const client = { send: () => Promise.reject(new Error('a manifest run must not list')) } as unknown as S3Client;
const objects = (n: number): BulkObject[] => Array.from({ length: n }, (_, i) => ({ bucket: 'b', key: `k${i}` }));

/** A promise per key, settled by the test, so the order objects finish in is the test's. */
function gates(keys: readonly string[]) {
  const open = new Map<string, () => void>();
  const waiting = new Map(keys.map((key) => [key, new Promise<void>((resolve) => open.set(key, resolve))]));
  return { wait: (key: string) => waiting.get(key)!, open: (key: string) => open.get(key)!() };
}

describe('LowWaterMark', () => {
  it('moves only over finished objects, in listing order, and stops before a failure', () => {
    const mark = new LowWaterMark();
    const items = ['a', 'b', 'c', 'd'].map((key, seq) => ({ key, seq }));
    items.forEach((item) => mark.started(item));
    expect(mark.finished(items[1]!, false)).toBeUndefined();
    expect(mark.finished(items[0]!, false)).toBe('b');
    expect(mark.finished(items[2]!, true)).toBe('b');
    expect(mark.finished(items[3]!, false)).toBe('b');
  });
});

describe('forEachObject', () => {
  it('runs at most `concurrency` steps at once and reports every result in completion order', async () => {
    let running = 0;
    let most = 0;
    const seen: string[] = [];
    const position = await forEachObject(client, {
      bucket: 'b',
      objects: objects(20),
      concurrency: 3,
      step: async (object) => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setImmediate(resolve));
        running--;
        return object.key;
      },
      onResult: (result, object, { done }) => {
        expect(result).toBe(object.key);
        seen.push(result);
        expect(done).toBe(seen.length);
      },
    });
    expect(most).toBe(3);
    expect(seen.sort()).toEqual(objects(20).map((o) => o.key).sort());
    expect(position).toEqual({ done: 20, resumeAfter: undefined });
  });

  it('a manifest has no order: no resumeAfter, even when all succeed', async () => {
    const marks: (string | undefined)[] = [];
    await forEachObject(client, { bucket: 'b', objects: objects(3), step: async () => true, onResult: (_r, _o, p) => marks.push(p.resumeAfter) });
    expect(marks).toEqual([undefined, undefined, undefined]);
  });

  it('a rejected step ends the run: nothing new starts, those in flight finish, the run rejects with it', async () => {
    const { wait, open } = gates(['k0', 'k1']);
    const started: string[] = [];
    const finished: string[] = [];
    let settled = false;
    const run = forEachObject(client, {
      bucket: 'b',
      objects: objects(10),
      concurrency: 2,
      step: async ({ key }) => {
        started.push(key);
        await wait(key);
        if (key === 'k0') throw new Error('boom');
        finished.push(key);
        return key;
      },
    }).finally(() => (settled = true));
    const rejected = expect(run).rejects.toThrow('boom');
    await new Promise((resolve) => setImmediate(resolve));
    open('k0');
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false); // k1 is still in flight
    open('k1');
    await rejected;
    expect(started).toEqual(['k0', 'k1']);
    expect(finished).toEqual(['k1']);
  });

  it('refuses bad options with TypeErrors', async () => {
    const step = async () => undefined;
    await expect(forEachObject(client, { bucket: '', step })).rejects.toThrow(TypeError);
    await expect(forEachObject(client, { bucket: 'b', concurrency: 0, step })).rejects.toThrow('options.concurrency');
    await expect(forEachObject(client, { bucket: 'b', step: undefined as never })).rejects.toThrow('options.step');
  });
});
