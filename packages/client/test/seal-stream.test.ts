import { randomBytes, randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sealPart, sealPartStream } from '../src/format/segments.js';

const SEGMENT = 4096;
const key = randomBytes(32);

async function sealStreamed(plaintext: Buffer, chunkSizes: () => number, length = plaintext.length): Promise<Buffer> {
  async function* source() {
    for (let offset = 0; offset < plaintext.length; ) {
      const size = Math.min(chunkSizes(), plaintext.length - offset);
      yield plaintext.subarray(offset, offset + size);
      offset += size;
    }
  }
  const pieces: Buffer[] = [];
  for await (const piece of sealPartStream(key, source(), length, SEGMENT, (actual) => new RangeError(`length ${actual}`))) pieces.push(piece);
  return Buffer.concat(pieces);
}

describe('sealPartStream', () => {
  it('seals exactly what sealPart seals, whatever the source chunking', async () => {
    for (const length of [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT, 3 * SEGMENT + 5]) {
      const plaintext = randomBytes(length);
      const expected = sealPart(key, plaintext, SEGMENT);
      for (const chunkSizes of [() => 1000, () => SEGMENT, () => 3 * SEGMENT + 7, () => randomInt(1, 2 * SEGMENT)]) {
        expect((await sealStreamed(plaintext, chunkSizes)).equals(expected)).toBe(true);
      }
    }
  });

  it('fails on a source longer or shorter than its declared length', async () => {
    const plaintext = randomBytes(2 * SEGMENT);
    await expect(sealStreamed(plaintext, () => 1000, 2 * SEGMENT - 1)).rejects.toThrow(`length ${2 * SEGMENT}`);
    await expect(sealStreamed(plaintext, () => 1000, 2 * SEGMENT + 1)).rejects.toThrow(`length ${2 * SEGMENT}`);
  });
});
