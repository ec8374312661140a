// Writes customer-key.json: vectors of the customer-key EDK (docs/FORMAT.md §10), made by the
// independent reading of the text (../customer-key-spec.ts) with fixed salts, plus one whole format-2
// object under a customer key. Run once (`npx tsx packages/client/test/vectors/generate-customer-key.ts`);
// never regenerate: every later release must still read these (customer-key.test.ts).
import { existsSync, writeFileSync } from 'node:fs';
import { CustomerKeyring } from '../../src/keyrings/customer-key.js';
import { objectEncryptionContext } from '../../src/keyrings/keyring.js';
import { specWrap } from '../customer-key-spec.js';
import { wrapDataKey } from '../../src/client/materials.js';
import { metadataWithEnvelope } from '../../src/format/envelope.js';
import { newEnvelope, newSuiteParameters, sealObject } from '../../src/format/object.js';

const target = new URL('./customer-key.json', import.meta.url);
if (existsSync(target)) throw new Error('customer-key.json exists: vectors are never regenerated');

const customerKey = Buffer.from('c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf', 'hex');
const cases = [
  { description: 'object context, format 2', context: objectEncryptionContext('vectors', 'object', 2), salt: '000102030405060708090a0b0c0d0e0f', dataKey: '202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f' },
  { description: 'object context with a caller context, format 2', context: objectEncryptionContext('vectors', 'object', 2, { tenant: 'acme' }), salt: 'f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff', dataKey: '4142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60' },
  { description: 'format 1 context', context: objectEncryptionContext('vectors', 'object', 1), salt: 'a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5', dataKey: '0000000000000000000000000000000000000000000000000000000000000000' },
];
const edks = cases.map(({ description, context, salt, dataKey }) => {
  const edk = specWrap(customerKey, Buffer.from(salt, 'hex'), Buffer.from(dataKey, 'hex'), context);
  return { description, context, saltHex: salt, dataKeyHex: dataKey, providerId: edk.providerId, keyId: edk.keyId, ciphertextHex: edk.ciphertext.toString('hex') };
});

// As a single PutObject stores it (helpers.ts's putInMemory, which needs a vitest worker).
const plaintext = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 31 + 9 * 17 + (i >> 8)) & 0xff));
const params = newSuiteParameters(4096, undefined);
const context = objectEncryptionContext('vectors', 'object', params.version, { tenant: 'acme' });
const { dataKey, encryptedDataKeys } = await wrapDataKey(new CustomerKeyring(customerKey), context);
const stored = { metadata: metadataWithEnvelope({}, newEnvelope(dataKey, params, encryptedDataKeys, context)), body: sealObject(dataKey, params, plaintext) };
dataKey.fill(0);

const file = {
  note: 'Customer-key EDKs (docs/FORMAT.md §10). Generated once. Do not regenerate: later releases must read these as they are.',
  customerKeyHex: customerKey.toString('hex'),
  edks,
  object: { description: 'single PUT, 5000 bytes, format 2, caller context {"tenant":"acme"}', bucket: 'vectors', key: 'object', callerContext: { tenant: 'acme' }, plaintext: plaintext.toString('base64'), metadata: stored.metadata, stored: stored.body.toString('base64') },
};
writeFileSync(target, JSON.stringify(file, null, 1) + '\n');
