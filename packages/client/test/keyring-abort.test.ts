import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { objectEncryptionContext, type DecryptRequest, type EncryptRequest, type Keyring } from '../src/keyrings/keyring.js';
import { MultiKeyring } from '../src/keyrings/multi.js';
import { RawAesKeyring } from '../src/keyrings/raw-aes.js';
import { RsaKeyring } from '../src/keyrings/raw-rsa.js';

const context = objectEncryptionContext('bucket', 'key');
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const keyrings: Record<string, () => Keyring> = {
  RawAesKeyring: () => new RawAesKeyring({ keyName: 'k1', masterKey: Buffer.alloc(32, 1) }),
  RsaKeyring: () => new RsaKeyring({ keyName: 'r1', publicKey, privateKey }),
  MultiKeyring: () => new MultiKeyring({ generator: new RawAesKeyring({ keyName: 'k1', masterKey: Buffer.alloc(32, 1) }), children: [new RsaKeyring({ keyName: 'r1', publicKey, privateKey })] }),
};

for (const [name, make] of Object.entries(keyrings)) {
  describe(`${name} with an aborted signal`, () => {
    it('refuses to encrypt or decrypt, rejecting with the signal\'s reason', async () => {
      const keyring = make();
      const { encryptedDataKeys } = await keyring.onEncrypt({ context });
      const reason = new Error('caller gave up');
      await expect(keyring.onEncrypt({ context, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      await expect(keyring.onDecrypt({ context, encryptedDataKeys, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    });
  });
}

/** Records the requests it gets; aborts `controller` from inside the call when asked. */
function recordingKeyring(options: { abortWith?: AbortController } = {}) {
  const encrypts: EncryptRequest[] = [];
  const decrypts: DecryptRequest[] = [];
  const keyring: Keyring = {
    onEncrypt: async (request) => {
      encrypts.push(request);
      return { dataKey: request.dataKey ?? new Uint8Array(32), encryptedDataKeys: [{ providerId: 'rec', keyId: 'k', ciphertext: new Uint8Array(1) }] };
    },
    onDecrypt: async (request) => {
      decrypts.push(request);
      options.abortWith?.abort();
      throw new Error('request aborted');
    },
  };
  return { keyring, encrypts, decrypts };
}

describe('MultiKeyring and signals', () => {
  it('passes the caller\'s signal to its generator and every child', async () => {
    const generator = recordingKeyring();
    const child = recordingKeyring();
    const signal = new AbortController().signal;
    await new MultiKeyring({ generator: generator.keyring, children: [child.keyring] }).onEncrypt({ context, signal });
    expect(generator.encrypts[0]?.signal).toBe(signal);
    expect(child.encrypts[0]?.signal).toBe(signal);
  });

  it('stops asking members once the signal is aborted and rejects with its reason', async () => {
    const controller = new AbortController();
    const first = recordingKeyring({ abortWith: controller });
    const second = recordingKeyring();
    const multi = new MultiKeyring({ generator: first.keyring, children: [second.keyring] });
    const encryptedDataKeys = [{ providerId: 'rec', keyId: 'k', ciphertext: new Uint8Array(1) }];
    await expect(multi.onDecrypt({ context, encryptedDataKeys, signal: controller.signal })).rejects.toBe(controller.signal.reason);
    expect(first.decrypts[0]?.signal).toBe(controller.signal);
    expect(second.decrypts).toEqual([]);
  });

  it('rejects with the signal\'s reason, not the failure the abort caused, when the last member was aborted', async () => {
    const controller = new AbortController();
    const only = recordingKeyring({ abortWith: controller });
    const encryptedDataKeys = [{ providerId: 'rec', keyId: 'k', ciphertext: new Uint8Array(1) }];
    await expect(new MultiKeyring({ generator: only.keyring }).onDecrypt({ context, encryptedDataKeys, signal: controller.signal })).rejects.toBe(controller.signal.reason);
  });
});
