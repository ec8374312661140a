// Randomized layouts (seeded, so failures reproduce): part counts and sizes around segment
// boundaries, empty parts anywhere, and random ranges, all compared with the plaintext.
import { describe, expect, it } from 'vitest';
import { getInMemory, multipartInMemory, pattern, testKeyring } from './helpers.js';

const SEGMENT = 4096;
const keyring = testKeyring(3);

function generator(seed: number) {
  let x = seed;
  return (n: number) => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x % n;
  };
}

describe('random layouts and ranges', () => {
  it('200 layouts × 10 ranges read back exactly the requested plaintext', async () => {
    const random = generator(20261123);
    const sizes = [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 2 * SEGMENT, 3 * SEGMENT - 7];
    for (let layout = 0; layout < 200; layout++) {
      const upload = await multipartInMemory(keyring, SEGMENT);
      const parts = [];
      const plaintexts: Buffer[] = [];
      let partNumber = 0;
      for (let i = 0, count = 1 + random(5); i < count; i++) {
        partNumber += 1 + random(3); // part numbers need not be consecutive
        const data = pattern(sizes[random(sizes.length)]!, layout * 10 + i);
        plaintexts.push(data);
        parts.push(upload.uploadPart(partNumber, data));
      }
      const stored = upload.complete(parts);
      const plaintext = Buffer.concat(plaintexts);
      expect((await getInMemory(keyring, stored)).equals(plaintext), `layout ${layout}, whole`).toBe(true);
      if (plaintext.length === 0) continue;
      for (let r = 0; r < 10; r++) {
        const start = random(plaintext.length);
        const end = start + 1 + random(plaintext.length - start);
        const read = await getInMemory(keyring, stored, { start, end });
        expect(read.equals(plaintext.subarray(start, end)), `layout ${layout}, range [${start}, ${end})`).toBe(true);
      }
    }
  }, 60_000);
});
