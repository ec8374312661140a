// Writes v1.json: format version 1 test vectors. Run once when the format version is introduced
// (`npx tsx packages/client/test/vectors/generate.ts`); never regenerate an existing version's file:
// every later release must still decrypt it (see vectors.test.ts).
import { writeFileSync } from 'node:fs';
import { RawAesKeyring } from '../../src/keyrings/raw-aes.js';
import { multipartInMemory, pattern, putInMemory } from '../helpers.js';

const masterKey = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const keyring = new RawAesKeyring({ keyName: 'vector-key', masterKey });
const SEGMENT = 4096;

const vectors = [];
for (const size of [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 10_000]) {
  const plaintext = pattern(size, size);
  const stored = await putInMemory(keyring, plaintext, SEGMENT);
  vectors.push({ description: `single PUT, ${size} bytes`, plaintext: plaintext.toString('base64'), metadata: stored.metadata, stored: stored.body.toString('base64') });
}
const upload = await multipartInMemory(keyring, SEGMENT);
const parts = [pattern(2 * SEGMENT, 1), pattern(SEGMENT, 2), pattern(100, 3)];
const stored = upload.complete([upload.uploadPart(1, parts[0]!), upload.uploadPart(2, parts[1]!), upload.uploadPart(3, parts[2]!)]);
vectors.push({ description: 'multipart, 3 parts (8192 + 4096 + 100 bytes)', plaintext: Buffer.concat(parts).toString('base64'), metadata: stored.metadata, stored: stored.body.toString('base64') });

const file = {
  format: 1,
  note: 'Generated once for format version 1. Do not regenerate: later releases must decrypt these as they are.',
  keyring: { type: 'raw-aes', keyName: 'vector-key', masterKeyHex: masterKey.toString('hex') },
  bucket: 'vectors',
  key: 'object',
  segmentSize: SEGMENT,
  vectors,
};
writeFileSync(new URL('./v1.json', import.meta.url), JSON.stringify(file, null, 1) + '\n');
