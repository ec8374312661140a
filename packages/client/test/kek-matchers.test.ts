import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Keyring } from '../src/keyrings/keyring.js';
import { MultiKeyring } from '../src/keyrings/multi.js';
import { RawAesKeyring } from '../src/keyrings/raw-aes.js';
import { RsaKeyring } from '../src/keyrings/raw-rsa.js';

const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const aes = new RawAesKeyring({ keyName: 'app-key-2026', masterKey: Buffer.alloc(32, 1) });
const rsa = new RsaKeyring({ keyName: 'archive', publicKey });

describe('kekMatchers of the local keyrings', () => {
  it('RawAesKeyring names its key exactly, as its envelopes do', async () => {
    expect(aes.kekMatchers()).toEqual([{ providerId: 'raw-aes', keyId: 'app-key-2026' }]);
    const { encryptedDataKeys } = await aes.onEncrypt({ context: {} });
    expect(encryptedDataKeys.map(({ providerId, keyId }) => ({ providerId, keyId }))).toEqual(aes.kekMatchers());
  });

  it('RsaKeyring names its key pair as a public-key KEK', async () => {
    expect(rsa.kekMatchers()).toEqual([{ providerId: 'raw-rsa', keyId: 'archive', publicKey: true }]);
    const [edk] = (await rsa.onEncrypt({ context: {} })).encryptedDataKeys;
    expect({ providerId: edk?.providerId, keyId: edk?.keyId }).toEqual({ providerId: 'raw-rsa', keyId: 'archive' });
  });

  it('MultiKeyring concatenates its members\', generator first', () => {
    const multi = new MultiKeyring({ generator: rsa, children: [aes] });
    expect(multi.kekMatchers()).toEqual([...rsa.kekMatchers(), ...aes.kekMatchers()]);
  });

  it('MultiKeyring cannot name its KEKs when a member cannot (no kekMatchers, or undefined)', () => {
    const silent: Keyring = { onEncrypt: () => Promise.reject(new Error('unused')), onDecrypt: async () => undefined };
    const alias: Keyring = { ...silent, kekMatchers: () => undefined };
    expect(new MultiKeyring({ generator: aes, children: [silent] }).kekMatchers()).toBeUndefined();
    expect(new MultiKeyring({ generator: alias, children: [aes] }).kekMatchers()).toBeUndefined();
  });
});
