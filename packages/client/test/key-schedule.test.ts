// The per-object key schedule (format/keys.ts): HKDF's extract step done once, each key one expand.
// It must give exactly the bytes of a full HKDF for every key the format derives, and refuse to
// derive for another object.
import { hkdfSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveCommitment, derivePartKey, headerTag, KeySchedule } from '../src/format/keys.js';
import { newSuiteParameters } from '../src/format/object.js';
import { serializeContext } from '../src/keyrings/context.js';
import { objectEncryptionContext } from '../src/keyrings/keyring.js';

describe('KeySchedule', () => {
  it('matches RFC 5869 test case 1 (the first 32 bytes of its OKM)', () => {
    const ikm = Buffer.alloc(22, 0x0b);
    const salt = Buffer.from('000102030405060708090a0b0c', 'hex');
    const info = Buffer.from('f0f1f2f3f4f5f6f7f8f9', 'hex');
    expect(new KeySchedule(ikm, salt).derive(salt, info, 32).toString('hex')).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf');
    expect(new KeySchedule(ikm, salt).derive(salt, info, 16)).toEqual(Buffer.from(hkdfSync('sha256', ikm, salt, info, 16)));
  });

  it('an empty salt is a block of zeros, as in HKDF', () => {
    const ikm = randomBytes(32);
    const info = Buffer.from('info');
    expect(new KeySchedule(ikm, Buffer.alloc(0)).derive(Buffer.alloc(0), info, 32)).toEqual(Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), info, 32)));
  });

  it('derives the same commitment, header tag and part keys as the data key itself, for both versions', () => {
    for (let round = 0; round < 20; round++) {
      const dataKey = randomBytes(32);
      const params = { ...newSuiteParameters(4096 << (round % 8)), version: round % 2 === 0 ? 2 : 1 } as const;
      const keys = new KeySchedule(dataKey, params.messageId);
      const part = { kind: round % 3, partNumber: round * 1000 + 1, salt: randomBytes(16) };
      expect(deriveCommitment(keys, params)).toEqual(deriveCommitment(dataKey, params));
      expect(derivePartKey(keys, params, part)).toEqual(derivePartKey(dataKey, params, part));
      if (params.version === 2) {
        const context = objectEncryptionContext('bucket', `key ${round} ✓`, 2, { tenant: 'ü' });
        const header = randomBytes(200);
        expect(headerTag(keys, params, context, header)).toEqual(headerTag(dataKey, params, context, header));
      }
    }
  });

  it('refuses to derive for another object, and more than one block', () => {
    const params = newSuiteParameters(4096);
    const keys = new KeySchedule(randomBytes(32), params.messageId);
    expect(() => deriveCommitment(keys, newSuiteParameters(4096))).toThrow(TypeError);
    expect(() => keys.derive(params.messageId, Buffer.from('x'), 33)).toThrow(RangeError);
  });
});

describe('serializeContext', () => {
  it('sorts by key and length-prefixes each UTF-8 key and value (u16)', () => {
    expect(serializeContext({ b: '2', a: 'é' }).toString('hex')).toBe('0001' + '61' + '0002' + 'c3a9' + '0001' + '62' + '0001' + '32');
    expect(serializeContext({})).toEqual(Buffer.alloc(0));
  });

  it('refuses an entry longer than a u16 length can say', () => {
    expect(() => serializeContext({ big: 'x'.repeat(65536) })).toThrow(RangeError);
  });
});
