import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { EncryptingS3Client } from '../src/client/encrypting-client.js';
import { checkPlaintextRead, plaintextReadPolicy } from '../src/client/plaintext-reads.js';
import { testKeyring } from './helpers.js';

describe('allowPlaintextReads', () => {
  it('the removed boolean form, and any other type, is refused at construction with a TypeError explaining the change', () => {
    const client = new S3Client({ region: 'us-east-1' });
    for (const option of [true, false, 'yes', 1, { bucket: 'b' }, null]) {
      expect(() => new EncryptingS3Client({ client, keyring: testKeyring(), allowPlaintextReads: option as never })).toThrow(TypeError);
    }
    expect(() => new EncryptingS3Client({ client, keyring: testKeyring(), allowPlaintextReads: true as never })).toThrow(/no longer takes a boolean/);
    client.destroy();
  });

  it('list entries must name a bucket and may name a string prefix', () => {
    for (const entry of [{}, { bucket: '' }, { bucket: 3 }, { bucket: 'b', prefix: 7 }, null]) {
      expect(() => plaintextReadPolicy([entry])).toThrow(/allowPlaintextReads\[0\]/);
    }
  });

  it('selects nothing when omitted', () => {
    expect(plaintextReadPolicy(undefined)('b', 'k')).toBe(false);
  });

  it('selects a whole bucket when the prefix is omitted, and only keys under the prefix otherwise', () => {
    const policy = plaintextReadPolicy([{ bucket: 'legacy' }, { bucket: 'mixed', prefix: 'old/' }]);
    expect(policy('legacy', 'any/key')).toBe(true);
    expect(policy('mixed', 'old/a')).toBe(true);
    expect(policy('mixed', 'new/a')).toBe(false);
    expect(policy('mixed', 'ol')).toBe(false);
    expect(policy('other', 'old/a')).toBe(false);
  });

  it('a list changed after construction does not change the selection', () => {
    const list = [{ bucket: 'legacy' }];
    const policy = plaintextReadPolicy(list);
    list[0]!.bucket = 'other';
    expect(policy('legacy', 'k')).toBe(true);
    expect(policy('other', 'k')).toBe(false);
  });

  it('a function selects only what it answers true for (truthy is not enough)', () => {
    const policy = plaintextReadPolicy((bucket: string, key: string) => (bucket === 'b' && key === 'yes' ? true : ('maybe' as never)));
    expect(policy('b', 'yes')).toBe(true);
    expect(policy('b', 'no')).toBe(false);
  });
});

describe('checkPlaintextRead', () => {
  const all = () => true;
  it('an object outside the selection is ERR_NOT_ENCRYPTED', () => {
    expect(() => checkPlaintextRead(() => false, 'b', 'k', {})).toThrow(expect.objectContaining({ code: 'ERR_NOT_ENCRYPTED' }));
  });

  it('an object inside the selection with no s3crypt metadata may be read', () => {
    expect(() => checkPlaintextRead(all, 'b', 'k', { owner: 'team', crypt: 'x' })).not.toThrow();
    expect(() => checkPlaintextRead(all, 'b', 'k', undefined)).not.toThrow();
  });

  it('a renamed envelope is never read as plaintext, even inside the selection, and its name is quoted', () => {
    for (const name of ['s3crypt-envelope-old', 'S3Crypt-Envelop', 's3crypt', 's3crypt\u202e\n']) {
      const error = (() => {
        try {
          checkPlaintextRead(all, 'b', 'k', { [name]: 'AQE=' });
        } catch (e) {
          return e as Error & { code?: string };
        }
        return undefined;
      })();
      expect(error?.code, name).toBe('ERR_ENVELOPE_MALFORMED');
      expect(error?.message).not.toMatch(/[\n\u202e]/);
    }
  });
});
