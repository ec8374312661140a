// Writes v2.json: format version 2 test vectors (unsigned, signed, with a caller context). Run once
// when the format version is introduced (`npx tsx packages/client/test/vectors/generate-v2.ts`); never
// regenerate an existing version's file: every later release must still decrypt it (vectors.test.ts).
import { existsSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { RawAesKeyring } from '../../src/keyrings/raw-aes.js';
import { multipartInMemory, pattern, putInMemory, type WriteOptions } from '../helpers.js';

const target = new URL('./v2.json', import.meta.url);
if (existsSync(target)) throw new Error('v2.json exists: vectors of a released format version are never regenerated');

const masterKey = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const keyring = new RawAesKeyring({ keyName: 'vector-key', masterKey });
const signer = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const SEGMENT = 4096;

const vectors = [];
const cases: { label: string; options: WriteOptions }[] = [
  { label: 'unsigned', options: {} },
  { label: 'signed', options: { signingKey: signer.privateKey } },
  { label: 'caller context {"tenant":"acme"}', options: { callerContext: { tenant: 'acme' } } },
];
for (const { label, options } of cases) {
  for (const size of [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 10_000]) {
    const plaintext = pattern(size, size);
    const stored = await putInMemory(keyring, plaintext, SEGMENT, 'object', options);
    vectors.push({ description: `single PUT, ${size} bytes, ${label}`, ...vectorOptions(options), plaintext: plaintext.toString('base64'), metadata: stored.metadata, stored: stored.body.toString('base64') });
  }
  const upload = await multipartInMemory(keyring, SEGMENT, 'object', options);
  const parts = [pattern(2 * SEGMENT, 1), pattern(SEGMENT, 2), pattern(100, 3)];
  const stored = upload.complete([upload.uploadPart(1, parts[0]!), upload.uploadPart(3, parts[1]!), upload.uploadPart(4, parts[2]!)]);
  vectors.push({ description: `multipart, parts 1, 3, 4 (8192 + 4096 + 100 bytes), ${label}`, ...vectorOptions(options), plaintext: Buffer.concat(parts).toString('base64'), metadata: stored.metadata, stored: stored.body.toString('base64') });
}

function vectorOptions(options: WriteOptions) {
  return { signed: options.signingKey !== undefined, callerContext: options.callerContext ?? {} };
}

const file = {
  format: 2,
  note: 'Generated once for format version 2. Do not regenerate: later releases must decrypt these as they are.',
  keyring: { type: 'raw-aes', keyName: 'vector-key', masterKeyHex: masterKey.toString('hex') },
  verificationKeyPem: signer.publicKey.export({ type: 'spki', format: 'pem' }),
  bucket: 'vectors',
  key: 'object',
  segmentSize: SEGMENT,
  vectors,
};
writeFileSync(target, JSON.stringify(file, null, 1) + '\n');
