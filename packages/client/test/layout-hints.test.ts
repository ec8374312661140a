// The guesses a ranged read makes before its trailer is read (client/early-body.ts): the one-part
// layout a single PUT gives, from the stored length alone, and the layouts earlier reads found.
import { describe, expect, it } from 'vitest';
import { LayoutHints } from '../src/client/layout-hints.js';
import { objectLayout, singlePartLayout } from '../src/format/layout.js';
import { encryptedPartLength } from '../src/format/segments.js';
import { trailerLength } from '../src/format/trailer.js';

const entry = (partNumber: number, length: number) => ({ partNumber, length, salt: new Uint8Array(16) });

describe('singlePartLayout', () => {
  it('recovers the plaintext length of every one-part object from its stored length, signed or not', () => {
    for (const segmentSize of [16, 4096, 262_144]) {
      for (const signed of [false, true]) {
        for (const length of [0, 1, segmentSize - 1, segmentSize, segmentSize + 1, 5 * segmentSize + 3, 40 * segmentSize]) {
          const stored = encryptedPartLength(length, segmentSize) + trailerLength(1, signed);
          const { plaintextLength, dataLength, totalLength } = objectLayout([entry(1, length)], segmentSize, signed);
          expect(singlePartLayout(stored, segmentSize, signed)).toMatchObject({ plaintextLength, dataLength, totalLength, segmentSize });
          expect(plaintextLength).toBe(length);
        }
      }
    }
  });

  it('has no answer for lengths no one-part object has', () => {
    // Fewer bytes than a trailer and one tag; a last segment of 1–15 stored bytes (shorter than its tag).
    expect(singlePartLayout(trailerLength(1) + 15, 4096, false)).toBeUndefined();
    expect(singlePartLayout(trailerLength(1) + 4096 + 16 + 10, 4096, false)).toBeUndefined();
  });
});

describe('LayoutHints', () => {
  const layout = objectLayout([entry(1, 5000), entry(2, 300)], 4096, false);

  it('gives back the ETag and part lengths of the same bucket, key and version, and with an ETag only that one', () => {
    const hints = new LayoutHints();
    hints.remember('b', 'k', undefined, '"e1"', layout, false);
    expect(hints.get('b', 'k', undefined)).toMatchObject({ etag: '"e1"', layout: { plaintextLength: 5300, dataLength: layout.dataLength, totalLength: layout.totalLength } });
    expect(hints.get('b', 'k', undefined, '"e1"')!.layout.parts.map((part) => part.length)).toEqual([5000, 300]);
    expect(hints.get('b', 'k', undefined, '"e2"')).toBeUndefined();
    expect(hints.get('b', 'k2', undefined)).toBeUndefined();
    expect(hints.get('b', 'k', 'v1')).toBeUndefined();
    // A later read of another version of the key replaces the hint.
    hints.remember('b', 'k', undefined, '"e2"', objectLayout([entry(1, 7)], 4096, false), false);
    expect(hints.get('b', 'k', undefined)).toMatchObject({ etag: '"e2"', layout: { plaintextLength: 7 } });
    // No ETag, nothing to pin a request to: not remembered.
    hints.remember('b', 'no-etag', undefined, undefined, layout, false);
    expect(hints.get('b', 'no-etag', undefined)).toBeUndefined();
  });

  it('is bounded: the oldest of 256 objects goes, and objects of more than 1000 parts are not kept', () => {
    const hints = new LayoutHints();
    for (let i = 0; i < 257; i++) hints.remember('b', `k${i}`, undefined, '"e"', layout, false);
    expect(hints.get('b', 'k0', undefined)).toBeUndefined();
    expect(hints.get('b', 'k1', undefined)).toBeDefined();
    expect(hints.get('b', 'k256', undefined)).toBeDefined();
    const large = objectLayout(Array.from({ length: 1001 }, (_, i) => entry(i + 1, 10)), 4096, false);
    hints.remember('b', 'large', undefined, '"e"', large, false);
    expect(hints.get('b', 'large', undefined)).toBeUndefined();
  });
});
