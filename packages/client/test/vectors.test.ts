import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RawAesKeyring } from '../src/keyrings/raw-aes.js';
import { BUCKET, KEY, getInMemory, type ReadOptions } from './helpers.js';

interface Vector {
  description: string;
  signed?: boolean;
  callerContext?: Record<string, string>;
  plaintext: string;
  metadata: Record<string, string>;
  stored: string;
}

interface VectorFile {
  format: number;
  keyring: { keyName: string; masterKeyHex: string };
  verificationKeyPem?: string;
  bucket: string;
  key: string;
  vectors: Vector[];
}

const files: VectorFile[] = ['v1', 'v2'].map((name) => JSON.parse(readFileSync(new URL(`./vectors/${name}.json`, import.meta.url), 'utf8')));

for (const file of files) {
  describe(`format version ${file.format} test vectors still decrypt`, () => {
    const keyring = new RawAesKeyring({ keyName: file.keyring.keyName, masterKey: Buffer.from(file.keyring.masterKeyHex, 'hex') });
    const verificationKey = file.verificationKeyPem ? createPublicKey(file.verificationKeyPem) : undefined;
    expect([file.bucket, file.key]).toEqual([BUCKET, KEY]);

    for (const vector of file.vectors) {
      it(vector.description, async () => {
        const plaintext = Buffer.from(vector.plaintext, 'base64');
        const stored = { metadata: vector.metadata, body: Buffer.from(vector.stored, 'base64') };
        const options: ReadOptions = {
          ...(vector.callerContext && Object.keys(vector.callerContext).length > 0 ? { callerContext: vector.callerContext } : {}),
          ...(vector.signed && verificationKey ? { policy: { verificationKeys: [verificationKey] } } : {}),
        };
        expect((await getInMemory(keyring, stored, undefined, KEY, options)).equals(plaintext)).toBe(true);
        if (plaintext.length > 2) {
          const range = { start: 1, end: plaintext.length - 1 };
          expect((await getInMemory(keyring, stored, range, KEY, options)).equals(plaintext.subarray(1, -1))).toBe(true);
        }
      });
    }

    it('a wrong master key fails every vector with a typed error', async () => {
      const wrong = new RawAesKeyring({ keyName: file.keyring.keyName, masterKey: Buffer.alloc(32, 0xee) });
      for (const vector of file.vectors) {
        await expect(getInMemory(wrong, { metadata: vector.metadata, body: Buffer.from(vector.stored, 'base64') })).rejects.toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
      }
    });
  });
}
