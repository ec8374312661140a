// The wrapped data key layout and derivation as the README specifies them, recomputed here from
// HMAC-SHA256 and AES-256-GCM directly (not through src/lib/wrap.ts), so the spec and the code agree.
import { createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { objectEncryptionContext } from '@s3crypt/client';
import { describe, expect, it } from 'vitest';
import { unwrapDataKey, wrapDataKey, WRAPPED_LENGTH } from '../src/lib/wrap.js';

const context = objectEncryptionContext('bucket', 'reports/2026.csv');
const keyId = 'orders:v3';

/** The README's words: HKDF-SHA256, IKM = branch key, salt, info = the label, 32 bytes. */
function readmeWrappingKey(branchKey: Buffer, salt: Buffer): Buffer {
  const prk = createHmac('sha256', salt).update(branchKey).digest();
  return createHmac('sha256', prk).update(Buffer.concat([Buffer.from('s3crypt-hierarchy/v1 wrapping key'), Buffer.of(1)])).digest();
}

/** The README's AAD: 0x01, u16 length + key id, then each context entry sorted by key, u16-prefixed. */
function readmeAad(id: string, ctx: Record<string, string>): Buffer {
  const u16 = (n: number) => Buffer.of(n >> 8, n & 0xff);
  const field = (text: string) => Buffer.concat([u16(Buffer.byteLength(text)), Buffer.from(text)]);
  return Buffer.concat([Buffer.of(1), field(id), ...Object.keys(ctx).sort().flatMap((k) => [field(k), field(ctx[k]!)])]);
}

describe('wrapped data key layout', () => {
  it('is 77 bytes: version 1, salt 16, iv 12, encrypted key 32, tag 16, as the README says', () => {
    const branchKey = randomBytes(32);
    const dataKey = randomBytes(32);
    const wrapped = Buffer.from(wrapDataKey(branchKey, dataKey, keyId, context));
    expect(wrapped.length).toBe(77);
    expect(WRAPPED_LENGTH).toBe(77);
    expect(wrapped[0]).toBe(1);
    const salt = wrapped.subarray(1, 17);
    const iv = wrapped.subarray(17, 29);
    const decipher = createDecipheriv('aes-256-gcm', readmeWrappingKey(branchKey, salt), iv);
    decipher.setAAD(readmeAad(keyId, context));
    decipher.setAuthTag(wrapped.subarray(61, 77));
    const plain = Buffer.concat([decipher.update(wrapped.subarray(29, 61)), decipher.final()]);
    expect(plain.equals(dataKey)).toBe(true);
  });

  it('uses a fresh salt and IV for every object', () => {
    const branchKey = randomBytes(32);
    const dataKey = randomBytes(32);
    const a = Buffer.from(wrapDataKey(branchKey, dataKey, keyId, context));
    const b = Buffer.from(wrapDataKey(branchKey, dataKey, keyId, context));
    expect(a.subarray(1, 17).equals(b.subarray(1, 17))).toBe(false);
    expect(a.subarray(17, 29).equals(b.subarray(17, 29))).toBe(false);
    expect(a.subarray(29).equals(b.subarray(29))).toBe(false);
  });

  it('round-trips, whatever the order of the context entries', () => {
    const branchKey = randomBytes(32);
    const dataKey = randomBytes(32);
    const wrapped = wrapDataKey(branchKey, dataKey, keyId, context);
    const reordered = Object.fromEntries(Object.entries(context).reverse());
    expect(unwrapDataKey(branchKey, wrapped, keyId, reordered).equals(dataKey)).toBe(true);
  });

  it('binds the full context, the key id and the branch key', () => {
    const branchKey = randomBytes(32);
    const wrapped = wrapDataKey(branchKey, randomBytes(32), keyId, context);
    const wrong = [
      () => unwrapDataKey(branchKey, wrapped, keyId, objectEncryptionContext('bucket', 'reports/2027.csv')),
      () => unwrapDataKey(branchKey, wrapped, keyId, objectEncryptionContext('other-bucket', 'reports/2026.csv')),
      () => unwrapDataKey(branchKey, wrapped, keyId, { ...context, extra: '' }),
      () => unwrapDataKey(branchKey, wrapped, keyId, objectEncryptionContext('bucket', 'reports/2026.csv', 1)),
      () => unwrapDataKey(branchKey, wrapped, 'orders:v4', context),
      () => unwrapDataKey(branchKey, wrapped, 'other:v3', context),
      () => unwrapDataKey(randomBytes(32), wrapped, keyId, context),
    ];
    for (const attempt of wrong) expect(attempt).toThrow();
  });

  it('fails on any flipped bit and on any other length or layout version', () => {
    const branchKey = randomBytes(32);
    const wrapped = wrapDataKey(branchKey, randomBytes(32), keyId, context);
    for (let index = 0; index < wrapped.length; index++) {
      const tampered = Uint8Array.from(wrapped);
      tampered[index]! ^= 0x01;
      expect(() => unwrapDataKey(branchKey, tampered, keyId, context), `byte ${index}`).toThrow();
    }
    expect(() => unwrapDataKey(branchKey, wrapped.subarray(0, 76), keyId, context)).toThrow(RangeError);
    expect(() => unwrapDataKey(branchKey, Uint8Array.from([...wrapped, 0]), keyId, context)).toThrow(RangeError);
  });
});
