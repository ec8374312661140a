// openSealedRange (the unit of a parallel read) against SegmentOpener, the streaming opener of the
// same format, on the calling thread and on a worker of DecryptPool.
import * as crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { objectLayout, planRead, type SegmentPlan } from '../src/format/layout.js';
import { openSealedRange, type SealedRange } from '../src/format/open-range.js';
import { SegmentOpener } from '../src/format/open-stream.js';
import { sealPart } from '../src/format/segments.js';
import { DecryptPool } from '../src/parallel/decrypt-pool.js';

const SEGMENT = 4096;
const keys = [crypto.randomBytes(32), crypto.randomBytes(32)];
const parts = [crypto.randomBytes(3 * SEGMENT + 123), crypto.randomBytes(2 * SEGMENT)];
const sealed = Buffer.concat(parts.map((part, i) => sealPart(keys[i]!, part, SEGMENT)));
const plaintext = Buffer.concat(parts);
const layout = objectLayout(
  parts.map((part, i) => ({ partNumber: i + 1, length: part.length, salt: Buffer.alloc(16) })),
  SEGMENT,
);

/** A copy in a buffer of its own (never Node's shared pool), as parallel reads allocate them: it can be handed over. */
function ownBuffer(bytes: Buffer): Buffer {
  const own = Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(own);
  return own;
}

function rangeOf(start: number, end: number): { range: SealedRange; segments: SegmentPlan[]; cipherStart: number } {
  const plan = planRead(layout, start, end);
  const segments = [...plan.segments()];
  const range: SealedRange = {
    sealed: ownBuffer(sealed.subarray(plan.cipherStart, plan.cipherEnd)),
    segments,
    keys: { 0: keys[0]!, 1: keys[1]! },
    plaintextLength: segments.reduce((sum, s) => sum + s.keepTo - s.keepFrom, 0),
  };
  return { range, segments, cipherStart: plan.cipherStart };
}

const CASES: Array<[number, number]> = [
  [0, plaintext.length],
  [1, 2],
  [SEGMENT - 1, SEGMENT + 1],
  [100, parts[0]!.length + 10],
  [parts[0]!.length, plaintext.length],
  [plaintext.length - 1, plaintext.length],
];

describe('openSealedRange', () => {
  it.each(CASES)('gives what SegmentOpener gives for bytes %i–%i', (start, end) => {
    const { range, segments } = rangeOf(start, end);
    const streamed = new SegmentOpener(segments, (index) => keys[index]!);
    const expected = Buffer.concat(streamed.push(range.sealed));
    const opened = openSealedRange(crypto, range);
    expect(opened.ok && Buffer.concat(opened.plaintext).equals(expected)).toBe(true);
    expect(opened.ok && Buffer.concat(opened.plaintext).equals(plaintext.subarray(start, end))).toBe(true);
  });

  it('names the segment whose tag fails, and returns no plaintext', () => {
    const { range } = rangeOf(0, plaintext.length);
    const tampered = Buffer.from(range.sealed);
    tampered[2 * (SEGMENT + 16) + 5]! ^= 1;
    expect(openSealedRange(crypto, { ...range, sealed: tampered })).toEqual({ ok: false, segment: 2, reason: 'tag' });
    // Segments swapped: each is authentic, but not at that index.
    const swapped = Buffer.concat([range.sealed.subarray(SEGMENT + 16, 2 * (SEGMENT + 16)), range.sealed.subarray(0, SEGMENT + 16), range.sealed.subarray(2 * (SEGMENT + 16))]);
    expect(openSealedRange(crypto, { ...range, sealed: swapped })).toEqual({ ok: false, segment: 0, reason: 'tag' });
  });

  it('refuses bytes that are not exactly the segments', () => {
    const { range } = rangeOf(0, plaintext.length);
    expect(openSealedRange(crypto, { ...range, sealed: range.sealed.subarray(0, range.sealed.length - 1) })).toMatchObject({ ok: false, reason: 'length' });
    expect(openSealedRange(crypto, { ...range, sealed: Buffer.concat([range.sealed, Buffer.alloc(1)]) })).toMatchObject({ ok: false, reason: 'length' });
  });
});

describe('DecryptPool', () => {
  it('opens ranges on worker threads, taking the ciphertext and leaving the keys to the caller', async () => {
    const pool = new DecryptPool(2);
    try {
      const results = await Promise.all(CASES.map(async ([start, end]) => {
        const { range } = rangeOf(start, end);
        const { result, sealed } = await pool.open(range, true);
        // Handed over, not copied: the caller's view is detached, and the buffer comes back.
        expect(range.sealed.byteLength).toBe(0);
        expect(sealed?.length).toBe(planRead(layout, start, end).cipherEnd - planRead(layout, start, end).cipherStart);
        return result.ok && Buffer.concat(result.plaintext).equals(plaintext.subarray(start, end));
      }));
      expect(results.every(Boolean)).toBe(true);
      expect(keys.every((key) => key.some((byte) => byte !== 0))).toBe(true);
      const { range } = rangeOf(0, plaintext.length);
      range.sealed[7] = range.sealed[7]! ^ 1;
      expect((await pool.open(range)).result).toEqual({ ok: false, segment: 0, reason: 'tag' });
      // Not handed over: copied, the caller's buffer stays usable.
      expect(range.sealed.byteLength).toBeGreaterThan(0);
    } finally {
      pool.destroy();
    }
    await expect(pool.open(rangeOf(0, 1).range)).rejects.toThrow(/destroyed/);
  });

  it('sends a copy of a buffer that cannot be handed over instead of failing', async () => {
    const pool = new DecryptPool(1);
    try {
      const { range } = rangeOf(1, 2);
      // A SharedArrayBuffer cannot be in a transfer list (DataCloneError), as Node's shared pool cannot.
      const shared = Buffer.from(new SharedArrayBuffer(range.sealed.length));
      shared.set(range.sealed);
      const { result } = await pool.open({ ...range, sealed: shared }, true);
      expect(result.ok && Buffer.concat(result.plaintext).equals(plaintext.subarray(1, 2))).toBe(true);
      expect(shared.byteLength).toBeGreaterThan(0);
    } finally {
      pool.destroy();
    }
  });

  it('with no workers opens inline', async () => {
    const pool = new DecryptPool(0);
    const { range } = rangeOf(5, 9000);
    const { result } = await pool.open(range);
    expect(result.ok && Buffer.concat(result.plaintext).equals(plaintext.subarray(5, 9000))).toBe(true);
    expect(range.sealed.byteLength).toBeGreaterThan(0);
  });
});
