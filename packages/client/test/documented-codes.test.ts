// The error codes docs/FORMAT.md §7 (steps 3 and 4) documents for objects longer or shorter than
// their trailer says, read through the in-memory reader that runs the client's own read path.
import { describe, expect, it } from 'vitest';
import { DecryptionError } from '../src/errors.js';
import { getInMemory, pattern, putInMemory, testKeyring, type StoredObject } from './helpers.js';

/** FORMAT.md §7 step 3: what a trailer that is not where the object's end says can fail with. */
const MISPLACED_TRAILER = ['ERR_OBJECT_MALFORMED', 'ERR_OBJECT_TRUNCATED', 'ERR_DECRYPTION_FAILED'];
const SEGMENT = 4096;
const SIZES = [0, 10, SEGMENT, 3 * SEGMENT + 5, 300_000];
/** 36 + 28n with n = 1 (FORMAT.md §5): where the trailer of a single PUT begins, counted from the end. */
const TRAILER_LENGTH = 64;
const keyring = testKeyring();

async function codeOf(stored: StoredObject, body: Buffer): Promise<string> {
  const error = await getInMemory(keyring, { ...stored, body }).then(
    () => expect.unreachable('the altered object was read'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DecryptionError);
  return (error as DecryptionError).code;
}

describe('FORMAT.md §7: stored length against the trailer', () => {
  for (const size of SIZES) {
    describe(`a ${size}-byte object`, () => {
      it('one byte more before the trailer is ERR_OBJECT_MALFORMED (step 4, longer)', async () => {
        const stored = await putInMemory(keyring, pattern(size), SEGMENT);
        const body = stored.body;
        expect(await codeOf(stored, Buffer.concat([Buffer.from([0x41]), body]))).toBe('ERR_OBJECT_MALFORMED');
        const beforeTrailer = body.length - TRAILER_LENGTH;
        expect(await codeOf(stored, Buffer.concat([body.subarray(0, beforeTrailer), Buffer.from([0]), body.subarray(beforeTrailer)]))).toBe('ERR_OBJECT_MALFORMED');
      });

      it('one byte less before the trailer is ERR_OBJECT_TRUNCATED (step 4, shorter)', async () => {
        const stored = await putInMemory(keyring, pattern(size), SEGMENT);
        const body = stored.body;
        expect(await codeOf(stored, body.subarray(1))).toBe('ERR_OBJECT_TRUNCATED');
        const beforeTrailer = body.length - TRAILER_LENGTH;
        expect(await codeOf(stored, Buffer.concat([body.subarray(0, beforeTrailer - 1), body.subarray(beforeTrailer)]))).toBe('ERR_OBJECT_TRUNCATED');
      });

      it('one byte appended or cut at the very end moves the trailer: one of the step 3 codes, never a read', async () => {
        const stored = await putInMemory(keyring, pattern(size), SEGMENT);
        const body = stored.body;
        expect(MISPLACED_TRAILER).toContain(await codeOf(stored, body.subarray(0, body.length - 1)));
        for (let byte = 0; byte < 256; byte++) {
          expect(MISPLACED_TRAILER).toContain(await codeOf(stored, Buffer.concat([body, Buffer.from([byte])])));
        }
      });
    });
  }

  it('step 3 names each of its codes for what it found (n = 1, so the count bytes are 00 00 00 01)', async () => {
    const small = await putInMemory(keyring, pattern(10), SEGMENT);
    // Appended 0x00: n reads 256, a trailer longer than the whole object.
    expect(await codeOf(small, Buffer.concat([small.body, Buffer.from([0])]))).toBe('ERR_OBJECT_TRUNCATED');
    // The last byte cut: n reads (last tag byte) · 2^24, above 9999 unless that byte is 0.
    const cut = small.body.subarray(0, small.body.length - 1);
    expect(await codeOf(small, cut)).toBe(cut[cut.length - 4] === 0 ? 'ERR_DECRYPTION_FAILED' : 'ERR_OBJECT_MALFORMED');
    // Appended to an object large enough to hold 256 entries' worth of trailer: the tag fails.
    const large = await putInMemory(keyring, pattern(300_000), SEGMENT);
    expect(await codeOf(large, Buffer.concat([large.body, Buffer.from([0])]))).toBe('ERR_DECRYPTION_FAILED');
  });
});
