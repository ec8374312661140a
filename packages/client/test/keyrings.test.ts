import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyringError } from '../src/errors.js';
import { objectEncryptionContext, type Keyring } from '../src/keyrings/keyring.js';
import { MultiKeyring } from '../src/keyrings/multi.js';
import { RawAesKeyring } from '../src/keyrings/raw-aes.js';
import { RsaKeyring } from '../src/keyrings/raw-rsa.js';
import { wrapDataKey, unwrapDataKey } from '../src/client/materials.js';
import { ResolvedKeyPolicy } from '../src/client/key-policy.js';

const context = objectEncryptionContext('bucket', 'key');
const otherContext = objectEncryptionContext('bucket', 'other-key');
const { publicKey, privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

const keyrings: Record<string, () => Keyring> = {
  RawAesKeyring: () => new RawAesKeyring({ keyName: 'k1', masterKey: Buffer.alloc(32, 1) }),
  RsaKeyring: () => new RsaKeyring({ keyName: 'r1', publicKey, privateKey }),
  MultiKeyring: () =>
    new MultiKeyring({ generator: new RawAesKeyring({ keyName: 'k1', masterKey: Buffer.alloc(32, 1) }), children: [new RsaKeyring({ keyName: 'r1', publicKey, privateKey })] }),
};

for (const [name, make] of Object.entries(keyrings)) {
  describe(name, () => {
    it('generates a 32-byte key and unwraps it under the same context', async () => {
      const keyring = make();
      const { dataKey, encryptedDataKeys } = await keyring.onEncrypt({ context });
      expect(dataKey).toHaveLength(32);
      expect(Buffer.from((await keyring.onDecrypt({ context, encryptedDataKeys }))!).equals(Buffer.from(dataKey))).toBe(true);
    });

    it('refuses to unwrap under another context (the envelope moved to another object)', async () => {
      const keyring = make();
      const { encryptedDataKeys } = await keyring.onEncrypt({ context });
      await expect(keyring.onDecrypt({ context: otherContext, encryptedDataKeys })).rejects.toBeInstanceOf(KeyringError);
    });

    it('refuses a tampered wrapped key', async () => {
      const keyring = make();
      const { encryptedDataKeys } = await keyring.onEncrypt({ context });
      const tampered = encryptedDataKeys.map((edk) => {
        const ciphertext = Buffer.from(edk.ciphertext);
        ciphertext[5] = (ciphertext[5] as number) ^ 0x10;
        return { ...edk, ciphertext };
      });
      await expect(keyring.onDecrypt({ context, encryptedDataKeys: tampered })).rejects.toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
    });

    it('returns undefined for keys that are not its own', async () => {
      const keyring = make();
      expect(await keyring.onDecrypt({ context, encryptedDataKeys: [{ providerId: 'someone-else', keyId: 'x', ciphertext: new Uint8Array(60) }] })).toBeUndefined();
    });
  });
}

describe('RawAesKeyring', () => {
  it('rejects master keys that are not 32 bytes', () => {
    expect(() => new RawAesKeyring({ keyName: 'k', masterKey: randomBytes(16) })).toThrow(TypeError);
  });

  it('another master key with the same name fails with a typed error', async () => {
    const { encryptedDataKeys } = await new RawAesKeyring({ keyName: 'k', masterKey: Buffer.alloc(32, 1) }).onEncrypt({ context });
    await expect(new RawAesKeyring({ keyName: 'k', masterKey: Buffer.alloc(32, 2) }).onDecrypt({ context, encryptedDataKeys })).rejects.toMatchObject({
      code: 'ERR_KEY_UNWRAP_FAILED',
    });
  });
});

describe('RsaKeyring', () => {
  it('a public-key-only writer encrypts but cannot decrypt', async () => {
    const writer = new RsaKeyring({ keyName: 'r1', publicKey });
    expect(writer.canDecrypt).toBe(false);
    const { dataKey, encryptedDataKeys } = await writer.onEncrypt({ context });
    await expect(writer.onDecrypt({ context, encryptedDataKeys })).rejects.toThrow(/public-only/);
    const reader = new RsaKeyring({ keyName: 'r1', publicKey, privateKey });
    expect(Buffer.from((await reader.onDecrypt({ context, encryptedDataKeys }))!).equals(Buffer.from(dataKey))).toBe(true);
  });

  it('rejects keys shorter than 2048 bits', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    expect(() => new RsaKeyring({ keyName: 'r', publicKey: small.publicKey })).toThrow(/2048/);
  });
});

describe('MultiKeyring', () => {
  it('wraps one key under every keyring; any single one decrypts', async () => {
    const aes = new RawAesKeyring({ keyName: 'k1', masterKey: Buffer.alloc(32, 1) });
    const rsa = new RsaKeyring({ keyName: 'r1', publicKey, privateKey });
    const multi = new MultiKeyring({ generator: aes, children: [rsa] });
    const { dataKey, encryptedDataKeys } = await multi.onEncrypt({ context });
    expect(encryptedDataKeys.map((edk) => edk.providerId)).toEqual(['raw-aes', 'raw-rsa']);
    for (const single of [aes, rsa]) {
      expect(Buffer.from((await single.onDecrypt({ context, encryptedDataKeys }))!).equals(Buffer.from(dataKey))).toBe(true);
    }
  });

  it('fails closed when any child cannot wrap', async () => {
    const failing: Keyring = { onEncrypt: () => Promise.reject(new Error('down')), onDecrypt: async () => undefined };
    const multi = new MultiKeyring({ generator: new RawAesKeyring({ keyName: 'k1', masterKey: Buffer.alloc(32, 1) }), children: [failing] });
    await expect(wrapDataKey(multi, context)).rejects.toMatchObject({ code: 'ERR_KEY_WRAP_FAILED' });
  });

  it('decryptOnly keyrings unwrap but never wrap, and count as its keys', async () => {
    const retired = new RawAesKeyring({ keyName: 'old', masterKey: Buffer.alloc(32, 2) });
    const current = new RawAesKeyring({ keyName: 'new', masterKey: Buffer.alloc(32, 3) });
    const old = await retired.onEncrypt({ context });
    const multi = new MultiKeyring({ generator: current, decryptOnly: [retired] });
    expect(Buffer.from((await multi.onDecrypt({ context, encryptedDataKeys: old.encryptedDataKeys }))!).equals(Buffer.from(old.dataKey))).toBe(true);
    expect((await multi.onEncrypt({ context })).encryptedDataKeys.map((edk) => edk.keyId)).toEqual(['new']);
    expect(multi.kekMatchers()?.map((m) => m.keyId)).toEqual(['new', 'old']);
  });
});

describe('data key checks', () => {
  it('a keyring returning a different key than it was given is refused', async () => {
    const liar: Keyring = {
      onEncrypt: async () => ({ dataKey: randomBytes(32), encryptedDataKeys: [{ providerId: 'x', keyId: 'y', ciphertext: new Uint8Array(1) }] }),
      onDecrypt: async () => undefined,
    };
    await expect(wrapDataKey(liar, context, randomBytes(32))).rejects.toMatchObject({ code: 'ERR_KEY_WRAP_FAILED' });
  });

  it('no matching keyring (discovery) gives ERR_NO_MATCHING_KEY naming the keys', async () => {
    const envelope = { version: 2, suite: 1, encryptedDataKeys: [{ providerId: 'aws-kms', keyId: 'arn:aws:kms:eu:1:key/abc', ciphertext: new Uint8Array(5) }] };
    const aes = new RawAesKeyring({ keyName: 'k1', masterKey: Buffer.alloc(32, 1) });
    const policy = new ResolvedKeyPolicy({ trustedKeks: 'discovery' }, aes);
    await expect(unwrapDataKey(aes, policy, envelope as never, context, 'the object')).rejects.toMatchObject({ code: 'ERR_NO_MATCHING_KEY', message: expect.stringContaining('"aws-kms":"arn:aws:kms:eu:1:key/abc"') });
  });

  it('a key the policy does not trust is refused before any keyring call (ERR_KEY_NOT_ALLOWED)', async () => {
    const envelope = { version: 2, suite: 1, encryptedDataKeys: [{ providerId: 'aws-kms', keyId: 'arn:aws:kms:eu:1:key/abc', ciphertext: new Uint8Array(5) }] };
    const aes = new RawAesKeyring({ keyName: 'k1', masterKey: Buffer.alloc(32, 1) });
    const policy = new ResolvedKeyPolicy(undefined, aes);
    await expect(unwrapDataKey(aes, policy, envelope as never, context, 'the object')).rejects.toMatchObject({ code: 'ERR_KEY_NOT_ALLOWED' });
  });
});
