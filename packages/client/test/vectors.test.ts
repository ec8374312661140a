import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RawAesKeyring } from '../src/keyrings/raw-aes.js';
import { BUCKET, KEY, getInMemory } from './helpers.js';

interface VectorFile {
  format: number;
  keyring: { keyName: string; masterKeyHex: string };
  bucket: string;
  key: string;
  vectors: { description: string; plaintext: string; metadata: Record<string, string>; stored: string }[];
}

const v1: VectorFile = JSON.parse(readFileSync(new URL('./vectors/v1.json', import.meta.url), 'utf8'));

describe('format version 1 test vectors still decrypt', () => {
  const keyring = new RawAesKeyring({ keyName: v1.keyring.keyName, masterKey: Buffer.from(v1.keyring.masterKeyHex, 'hex') });
  expect([v1.bucket, v1.key]).toEqual([BUCKET, KEY]);

  for (const vector of v1.vectors) {
    it(vector.description, async () => {
      const plaintext = Buffer.from(vector.plaintext, 'base64');
      const stored = { metadata: vector.metadata, body: Buffer.from(vector.stored, 'base64') };
      expect((await getInMemory(keyring, stored)).equals(plaintext)).toBe(true);
      if (plaintext.length > 2) {
        const range = { start: 1, end: plaintext.length - 1 };
        expect((await getInMemory(keyring, stored, range)).equals(plaintext.subarray(1, -1))).toBe(true);
      }
    });
  }

  it('a wrong master key fails every vector with a typed error', async () => {
    const wrong = new RawAesKeyring({ keyName: v1.keyring.keyName, masterKey: Buffer.alloc(32, 0xee) });
    for (const vector of v1.vectors) {
      await expect(getInMemory(wrong, { metadata: vector.metadata, body: Buffer.from(vector.stored, 'base64') })).rejects.toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
    }
  });
});
