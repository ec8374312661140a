import { describe, expect, it } from 'vitest';
import { DecryptionError, S3CryptError } from '../src/errors.js';
import { ENVELOPE_METADATA_KEY, TAG_LENGTH } from '../src/format/constants.js';
import { parseEnvelope, serializeEnvelope } from '../src/format/envelope.js';
import { segmentCount } from '../src/format/segments.js';
import { BUCKET, getInMemory, multipartInMemory, pattern, putInMemory, testKeyring, type StoredObject } from './helpers.js';

const SEGMENT = 4096;
const keyring = testKeyring();

async function failureCode(stored: StoredObject, range?: { start: number; end: number }): Promise<string> {
  try {
    await getInMemory(keyring, stored, range);
  } catch (error) {
    if (error instanceof S3CryptError) return error.code;
    throw error;
  }
  return 'NO ERROR';
}

describe('round trip', () => {
  for (const size of [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT, 10_000]) {
    it(`${size} bytes`, async () => {
      const plaintext = pattern(size);
      const stored = await putInMemory(keyring, plaintext, SEGMENT);
      expect(stored.body.length).toBe(size + TAG_LENGTH * segmentCount(size, SEGMENT) + 64);
      expect((await getInMemory(keyring, stored)).equals(plaintext)).toBe(true);
    });
  }

  it('every range of a multi-segment, multi-part object', async () => {
    const upload = await multipartInMemory(keyring, SEGMENT);
    const a = pattern(2 * SEGMENT + 100, 1);
    const b = pattern(SEGMENT, 2);
    const c = pattern(7, 3);
    const stored = upload.complete([upload.uploadPart(1, a), upload.uploadPart(2, b), upload.uploadPart(4, c)]);
    const plaintext = Buffer.concat([a, b, c]);
    for (let start = 0; start < plaintext.length; start += 397) {
      for (const end of [start + 1, start + SEGMENT, start + 5000, plaintext.length]) {
        const clamped = Math.min(end, plaintext.length);
        expect((await getInMemory(keyring, stored, { start, end: clamped })).equals(plaintext.subarray(start, clamped))).toBe(true);
      }
    }
  });
});

describe('tampering is detected', () => {
  it('every single-bit flip anywhere in the stored bytes of a 3-segment object', async () => {
    const stored = await putInMemory(keyring, pattern(2 * SEGMENT + 50), SEGMENT);
    const undetected: number[] = [];
    for (let byte = 0; byte < stored.body.length; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const body = Buffer.from(stored.body);
        body[byte] = (body[byte] as number) ^ (1 << bit);
        if ((await failureCode({ ...stored, body })) === 'NO ERROR') undetected.push(byte * 8 + bit);
      }
    }
    expect(undetected).toEqual([]);
  }, 300_000);

  it('every single-bit flip in the envelope metadata', async () => {
    const stored = await putInMemory(keyring, pattern(5000), SEGMENT);
    const raw = Buffer.from(stored.metadata[ENVELOPE_METADATA_KEY]!, 'base64');
    const outcomes = new Set<string>();
    for (let byte = 0; byte < raw.length; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const flipped = Buffer.from(raw);
        flipped[byte] = (flipped[byte] as number) ^ (1 << bit);
        const code = await failureCode({ ...stored, metadata: { [ENVELOPE_METADATA_KEY]: flipped.toString('base64') } });
        expect(code, `byte ${byte} bit ${bit}`).not.toBe('NO ERROR');
        outcomes.add(code);
      }
    }
    expect([...outcomes].sort()).toEqual(
      ['ERR_ENVELOPE_MALFORMED', 'ERR_HEADER_AUTH_FAILED', 'ERR_KEY_COMMITMENT_MISMATCH', 'ERR_KEY_NOT_ALLOWED', 'ERR_KEY_UNWRAP_FAILED', 'ERR_UNSUPPORTED_FORMAT_VERSION'].sort(),
    );
  });

  it('truncation at every segment boundary and at every byte of the tail', async () => {
    const stored = await putInMemory(keyring, pattern(3 * SEGMENT + 10), SEGMENT);
    const cuts = new Set<number>();
    for (let i = 1; i <= 3; i++) cuts.add(i * (SEGMENT + TAG_LENGTH));
    for (let cut = stored.body.length - 200; cut < stored.body.length; cut++) cuts.add(cut);
    cuts.add(0);
    for (const cut of cuts) {
      expect(await failureCode({ ...stored, body: stored.body.subarray(0, cut) }), `cut at ${cut}`).not.toBe('NO ERROR');
    }
  });

  it('segments swapped within a part', async () => {
    const stored = await putInMemory(keyring, pattern(3 * SEGMENT), SEGMENT);
    const s = SEGMENT + TAG_LENGTH;
    const body = Buffer.concat([stored.body.subarray(s, 2 * s), stored.body.subarray(0, s), stored.body.subarray(2 * s)]);
    expect(await failureCode({ ...stored, body })).toBe('ERR_DECRYPTION_FAILED');
  });

  it('parts swapped (equal sizes, so lengths still match)', async () => {
    const upload = await multipartInMemory(keyring, SEGMENT);
    const one = upload.uploadPart(1, pattern(SEGMENT, 1));
    const two = upload.uploadPart(2, pattern(SEGMENT, 2));
    const good = upload.complete([one, two]);
    const trailer = good.body.subarray(2 * (SEGMENT + TAG_LENGTH));
    const body = Buffer.concat([two.body, one.body, trailer]);
    expect(await failureCode({ ...good, body })).toBe('ERR_DECRYPTION_FAILED');
  });

  it('a part spliced in from another attempt of the same upload (same part number, same DEK)', async () => {
    const upload = await multipartInMemory(keyring, SEGMENT);
    const first = upload.uploadPart(1, pattern(SEGMENT, 1));
    const retry = upload.uploadPart(1, pattern(SEGMENT, 9));
    const two = upload.uploadPart(2, pattern(100, 2));
    const good = upload.complete([first, two]);
    const body = Buffer.concat([retry.body, good.body.subarray(first.body.length)]);
    expect(await failureCode({ ...good, body })).toBe('ERR_DECRYPTION_FAILED');
    expect((await getInMemory(keyring, upload.complete([retry, two]))).subarray(0, SEGMENT).equals(pattern(SEGMENT, 9))).toBe(true);
  });

  it('a part spliced in from another object', async () => {
    const a = await multipartInMemory(keyring, SEGMENT);
    const b = await multipartInMemory(keyring, SEGMENT);
    const aOne = a.uploadPart(1, pattern(SEGMENT, 1));
    const bOne = b.uploadPart(1, pattern(SEGMENT, 1));
    const good = a.complete([aOne]);
    expect(await failureCode({ ...good, body: Buffer.concat([bOne.body, good.body.subarray(aOne.body.length)]) })).toBe('ERR_DECRYPTION_FAILED');
  });

  it('whole trailing parts dropped (with or without their trailer)', async () => {
    const upload = await multipartInMemory(keyring, SEGMENT);
    const parts = [1, 2, 3].map((n) => upload.uploadPart(n, pattern(SEGMENT, n)));
    const good = upload.complete(parts);
    const trailer = good.body.subarray(3 * (SEGMENT + TAG_LENGTH));
    expect(await failureCode({ ...good, body: Buffer.concat([parts[0]!.body, parts[1]!.body, trailer]) })).toBe('ERR_OBJECT_TRUNCATED');
    const twoPartTrailer = upload.complete(parts.slice(0, 2)).body.subarray(2 * (SEGMENT + TAG_LENGTH));
    expect(await getInMemory(keyring, { ...good, body: Buffer.concat([parts[0]!.body, parts[1]!.body, twoPartTrailer]) })).toHaveLength(2 * SEGMENT);
  });

  it('envelope moved onto another object', async () => {
    const a = await putInMemory(keyring, pattern(100, 1), SEGMENT);
    const b = await putInMemory(keyring, pattern(100, 2), SEGMENT);
    expect(await failureCode({ metadata: a.metadata, body: b.body })).toBe('ERR_DECRYPTION_FAILED');
  });

  it('an object read under another bucket/key name (copied behind the client)', async () => {
    const stored = await putInMemory(keyring, pattern(100), SEGMENT);
    await expect(getInMemory(keyring, stored, undefined, 'other-key')).rejects.toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
  });
});

describe('envelope', () => {
  it('round trips and rejects unknown versions and suites with a typed error', async () => {
    const stored = await putInMemory(keyring, pattern(10), SEGMENT);
    const value = stored.metadata[ENVELOPE_METADATA_KEY]!;
    const envelope = parseEnvelope(value);
    expect(serializeEnvelope(envelope)).toBe(value);
    const raw = Buffer.from(value, 'base64');
    raw[0] = 3;
    expect(() => parseEnvelope(raw.toString('base64'))).toThrow(/format version 3 is not supported/);
    raw[0] = 2;
    raw[1] = 9;
    expect(() => parseEnvelope(raw.toString('base64'))).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED_FORMAT_VERSION' }));
    expect(() => parseEnvelope('!!')).toThrow(expect.objectContaining({ code: 'ERR_ENVELOPE_MALFORMED' }));
    raw[1] = 1;
    expect(() => parseEnvelope(raw.subarray(0, 21).toString('base64'))).toThrow(expect.objectContaining({ code: 'ERR_ENVELOPE_MALFORMED' }));
  });

  it('stays well under the 2 KiB metadata limit for a local key', async () => {
    const stored = await putInMemory(keyring, pattern(10), SEGMENT);
    expect(`x-amz-meta-${ENVELOPE_METADATA_KEY}`.length + stored.metadata[ENVELOPE_METADATA_KEY]!.length).toBeLessThan(400);
    expect(BUCKET).toBe('vectors');
  });

  it('errors carry no key material in their messages', async () => {
    const error = new DecryptionError('ERR_DECRYPTION_FAILED');
    expect(error.message).toBe('decryption operation failed');
  });
});

describe('nonce uniqueness', () => {
  it('re-uploading a part number with the same or different content uses a fresh key', async () => {
    const upload = await multipartInMemory(keyring, SEGMENT);
    const a = upload.uploadPart(1, pattern(SEGMENT, 1));
    const b = upload.uploadPart(1, pattern(SEGMENT, 1));
    expect(Buffer.compare(a.entry.salt, b.entry.salt)).not.toBe(0);
    expect(a.body.equals(b.body)).toBe(false);
  });
});
