import { KmsError, objectEncryptionContext, type EncryptedDataKey } from '@s3crypt/client';
import { describe, expect, it } from 'vitest';
import { AzureKeyVaultKeyring, AZURE_KEY_VAULT_PROVIDER_ID, type AzureKeyWrapClient } from '../src/index.js';
import { mapAzureError } from '../src/lib/errors.js';
import { kmsRejection } from '../../../test/harness/kms-rejection.js';

const VAULT = 'https://unit.vault.azure.net';
const V1 = `${VAULT}/keys/kek/1111`;
const V2 = `${VAULT}/keys/kek/2222`;
const context = objectEncryptionContext('bucket', 'key');

/** A stand-in for Key Vault: "wraps" by XOR with a per-version pad, and records calls. */
function fakeVault(options: { fail?: (op: 'wrap' | 'unwrap', id: string) => unknown } = {}) {
  const calls: string[] = [];
  const pad = (id: string) => Buffer.alloc(32, id.length + id.charCodeAt(id.length - 1));
  const xor = (data: Uint8Array, id: string) => Buffer.from(data.map((b, i) => b ^ (pad(id)[i] ?? 0)));
  const factory = (id: string): AzureKeyWrapClient => ({
    wrapKey: async (_alg, key) => {
      calls.push(`wrap ${id}`);
      const error = options.fail?.('wrap', id);
      if (error) throw error;
      return { result: xor(key, id) };
    },
    unwrapKey: async (_alg, wrapped) => {
      calls.push(`unwrap ${id}`);
      const error = options.fail?.('unwrap', id);
      if (error) throw error;
      return { result: xor(wrapped, id) };
    },
  });
  return { calls, factory };
}

function keyring(vault = fakeVault(), keyId = V1, current = { id: V1, enabled: true }) {
  return new AzureKeyVaultKeyring({
    keyId,
    credential: { getToken: async () => null },
    cryptographyClient: vault.factory,
    keyClient: { getKey: async () => ({ id: current.id, properties: { enabled: current.enabled } }) },
  });
}

describe('AzureKeyVaultKeyring', () => {
  it('generates a 32-byte data key and records the versioned key id', async () => {
    const { dataKey, encryptedDataKeys } = await keyring().onEncrypt({ context });
    expect(dataKey).toHaveLength(32);
    expect(encryptedDataKeys).toEqual([expect.objectContaining({ providerId: AZURE_KEY_VAULT_PROVIDER_ID, keyId: V1 })]);
  });

  it('resolves an unversioned key id to its current version', async () => {
    const vault = fakeVault();
    const ring = keyring(vault, `${VAULT}/keys/kek`, { id: V2, enabled: true });
    const { encryptedDataKeys } = await ring.onEncrypt({ context });
    expect(encryptedDataKeys[0]?.keyId).toBe(V2);
    expect(vault.calls).toEqual([`wrap ${V2}`]);
  });

  it('fails closed without wrapping when the current version is disabled', async () => {
    const vault = fakeVault();
    const error = await kmsRejection(keyring(vault, `${VAULT}/keys/kek`, { id: V2, enabled: false }).onEncrypt({ context }));
    expect(error.code).toBe('ERR_KMS_KEY_DISABLED');
    expect(error.keyId).toBe(V2);
    expect(vault.calls).toEqual([]);
  });

  it('unwraps its own data key under the same context', async () => {
    const ring = keyring();
    const { dataKey, encryptedDataKeys } = await ring.onEncrypt({ context, dataKey: new Uint8Array(32).fill(5) });
    expect(Buffer.from((await ring.onDecrypt({ context, encryptedDataKeys }))!).equals(Buffer.from(dataKey))).toBe(true);
  });

  it('rejects a different context with ERR_KMS_WRONG_KEY (context binding)', async () => {
    const ring = keyring();
    const { encryptedDataKeys } = await ring.onEncrypt({ context });
    for (const other of [objectEncryptionContext('bucket', 'other'), objectEncryptionContext('other', 'key'), { ...context, extra: '1' }]) {
      const error = await kmsRejection(ring.onDecrypt({ context: other, encryptedDataKeys }));
      expect(error.code).toBe('ERR_KMS_WRONG_KEY');
      expect(error.keyId).toBe(V1);
    }
  });

  it('rejects a tampered binding tag or a re-labelled key version', async () => {
    const ring = keyring();
    const { encryptedDataKeys } = await ring.onEncrypt({ context });
    const edk = encryptedDataKeys[0]!;
    const flipped = Uint8Array.from(edk.ciphertext);
    flipped[flipped.length - 1]! ^= 1;
    expect((await kmsRejection(ring.onDecrypt({ context, encryptedDataKeys: [{ ...edk, ciphertext: flipped }] }))).code).toBe('ERR_KMS_WRONG_KEY');
    expect((await kmsRejection(ring.onDecrypt({ context, encryptedDataKeys: [{ ...edk, ciphertext: edk.ciphertext.subarray(1) }] }))).code).toBe('ERR_KMS_WRONG_KEY');
    expect((await kmsRejection(ring.onDecrypt({ context, encryptedDataKeys: [{ ...edk, keyId: V2 }] }))).code).toBe('ERR_KMS_WRONG_KEY');
  });

  it('returns undefined without calling Key Vault when no encrypted data key is its own', async () => {
    const vault = fakeVault();
    const ring = keyring(vault);
    const { encryptedDataKeys } = await ring.onEncrypt({ context });
    vault.calls.length = 0;
    const edk = encryptedDataKeys[0]!;
    const foreign: EncryptedDataKey[] = [
      { ...edk, providerId: 'aws-kms' },
      { ...edk, keyId: `${VAULT}/keys/other-key/1111` },
      { ...edk, keyId: `https://other.vault.azure.net/keys/kek/1111` },
      { ...edk, keyId: `${VAULT}/keys/kek` },
      { ...edk, keyId: 'not a url' },
    ];
    expect(await ring.onDecrypt({ context, encryptedDataKeys: foreign })).toBeUndefined();
    expect(vault.calls).toEqual([]);
  });

  it('accepts any version of its key, and falls through to the next of its own data keys', async () => {
    const vault = fakeVault({ fail: (op, id) => (op === 'unwrap' && id === V1 ? Object.assign(new Error('Operation unwrapKey is not allowed on a disabled key.'), { statusCode: 403 }) : undefined) });
    const v1 = await keyring(vault, V1).onEncrypt({ context });
    const v2 = await keyring(vault, V2).onEncrypt({ context, dataKey: v1.dataKey });
    const ring = keyring(vault, `${VAULT}/keys/kek`);
    const key = await ring.onDecrypt({ context, encryptedDataKeys: [...v1.encryptedDataKeys, ...v2.encryptedDataKeys] });
    expect(Buffer.from(key!).equals(Buffer.from(v1.dataKey))).toBe(true);
    const error = await kmsRejection(ring.onDecrypt({ context, encryptedDataKeys: v1.encryptedDataKeys }));
    expect(error.code).toBe('ERR_KMS_KEY_DISABLED');
    expect(error.keyId).toBe(V1);
    expect(error.message).toContain(V1);
  });

  it('maps a wrap failure to a typed error naming the key', async () => {
    const vault = fakeVault({ fail: () => Object.assign(new Error('throttled'), { statusCode: 429 }) });
    const error = await kmsRejection(keyring(vault).onEncrypt({ context }));
    expect(error.code).toBe('ERR_KMS_THROTTLED');
    expect(error.keyId).toBe(V1);
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('rejects bad options with TypeError', () => {
    expect(() => keyring(fakeVault(), 'https://unit.vault.azure.net/secrets')).toThrow(TypeError);
    expect(() => new AzureKeyVaultKeyring({ keyId: V1, credential: { getToken: async () => null }, algorithm: 'RSA1_5' as never })).toThrow(TypeError);
  });
});

describe('mapAzureError', () => {
  const rest = (statusCode: number, message = 'x', code = 'Code') => Object.assign(new Error(message), { name: 'RestError', statusCode, code });
  const cases: [string, unknown, 'wrap' | 'unwrap', string][] = [
    ['401', rest(401), 'wrap', 'ERR_KMS_ACCESS_DENIED'],
    ['403 forbidden by policy', rest(403, 'The user does not have keys unwrapKey permission', 'Forbidden'), 'unwrap', 'ERR_KMS_ACCESS_DENIED'],
    ['403 disabled key', rest(403, 'Operation unwrapKey is not allowed on a disabled key.', 'Forbidden'), 'unwrap', 'ERR_KMS_KEY_DISABLED'],
    ['403 operation not permitted', rest(403, 'Operation wrapKey not permitted', 'Forbidden'), 'wrap', 'ERR_KMS_KEY_DISABLED'],
    ['404', rest(404, 'not found', 'KeyNotFound'), 'unwrap', 'ERR_KMS_KEY_NOT_FOUND'],
    ['429', rest(429), 'wrap', 'ERR_KMS_THROTTLED'],
    ['500', rest(500), 'wrap', 'ERR_KMS_UNAVAILABLE'],
    ['503', rest(503), 'unwrap', 'ERR_KMS_UNAVAILABLE'],
    ['400 on unwrap', rest(400, 'bad ciphertext', 'BadParameter'), 'unwrap', 'ERR_KMS_WRONG_KEY'],
    ['400 on wrap', rest(400, 'bad', 'BadParameter'), 'wrap', 'ERR_KMS_FAILED'],
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'wrap', 'ERR_KMS_UNAVAILABLE'],
    ['send error', Object.assign(new Error('x'), { name: 'RestError', code: 'REQUEST_SEND_ERROR' }), 'unwrap', 'ERR_KMS_UNAVAILABLE'],
    ['abort', Object.assign(new Error('aborted'), { name: 'AbortError' }), 'wrap', 'ERR_KMS_UNAVAILABLE'],
    ['key expired (checked by the SDK)', new Error(`Key ${V1} expired at 2020-01-01T00:00:00.000Z`), 'unwrap', 'ERR_KMS_KEY_DISABLED'],
    ['anything else', new Error('boom'), 'wrap', 'ERR_KMS_FAILED'],
  ];
  for (const [name, error, operation, code] of cases) {
    it(`${name} → ${code}`, () => {
      const mapped = mapAzureError(error, V1, operation);
      expect(mapped.code).toBe(code);
      expect(mapped.keyId).toBe(V1);
      expect(mapped.message).toContain(V1);
      expect(mapped.cause).toBe(error);
    });
  }

  it('passes a KmsError through unchanged', () => {
    const original = new KmsError('ERR_KMS_WRONG_KEY', V1, 'x');
    expect(mapAzureError(original, V2, 'unwrap')).toBe(original);
  });
});

describe('AzureKeyVaultKeyring.kekMatchers', () => {
  it('names every version of its key by prefix, a public-key KEK for RSA-OAEP-256 but not for A256KW', () => {
    expect(keyring().kekMatchers()).toEqual([{ providerId: 'azure-key-vault', keyId: `${VAULT}/keys/kek/`, match: 'prefix', publicKey: true }]);
    const hsm = new AzureKeyVaultKeyring({ keyId: V1, algorithm: 'A256KW', credential: { getToken: async () => null }, cryptographyClient: fakeVault().factory, keyClient: { getKey: async () => ({ id: V1, properties: {} }) } });
    expect(hsm.kekMatchers()).toEqual([{ providerId: 'azure-key-vault', keyId: `${VAULT}/keys/kek/`, match: 'prefix', publicKey: false }]);
  });

  it('records key ids its prefix matches, however the configured or resolved key URL was spelled', async () => {
    const spelled = [
      keyring(fakeVault(), 'https://UNIT.vault.azure.net:443/keys/kek/1111'),
      keyring(fakeVault(), `${VAULT}/keys/kek`, { id: 'https://Unit.Vault.Azure.Net/keys/kek/2222', enabled: true }),
    ];
    const recorded = [];
    for (const each of spelled) {
      const [prefix] = each.kekMatchers();
      const [edk] = (await each.onEncrypt({ context })).encryptedDataKeys;
      expect(edk?.keyId.startsWith(prefix!.keyId)).toBe(true);
      recorded.push(edk?.keyId);
    }
    expect(recorded).toEqual([V1, V2]);
  });
});

describe('AzureKeyVaultKeyring cancellation and timeout', () => {
  /** Key Vault clients that record the abortSignal of each call and never answer. */
  function hangingVault() {
    const signals: (AbortSignal | undefined)[] = [];
    const hang = (options?: { abortSignal?: AbortSignal }) => {
      signals.push(options?.abortSignal);
      return new Promise<never>(() => undefined);
    };
    const options = {
      credential: { getToken: async () => null },
      cryptographyClient: (): AzureKeyWrapClient => ({ wrapKey: (_a, _k, o) => hang(o), unwrapKey: (_a, _k, o) => hang(o) }),
      keyClient: { getKey: (_name: string, o?: { abortSignal?: AbortSignal }) => hang(o) },
    };
    return { signals, options };
  }

  it('passes an abortSignal to resolving, wrapping and unwrapping, aborted when the caller aborts', async () => {
    for (const call of ['resolve', 'wrap', 'unwrap'] as const) {
      const { signals, options } = hangingVault();
      const keyring = new AzureKeyVaultKeyring({ keyId: call === 'resolve' ? `${VAULT}/keys/kek` : V1, ...options });
      const controller = new AbortController();
      const ownKey: EncryptedDataKey = { providerId: AZURE_KEY_VAULT_PROVIDER_ID, keyId: V1, ciphertext: Buffer.concat([Buffer.from([1, 0, 32]), Buffer.alloc(64)]) };
      const pending = call === 'unwrap' ? keyring.onDecrypt({ context, encryptedDataKeys: [ownKey], signal: controller.signal }) : keyring.onEncrypt({ context, signal: controller.signal });
      await new Promise((resolve) => setImmediate(resolve));
      expect(signals).toHaveLength(1);
      controller.abort();
      await expect(pending).rejects.toBe(controller.signal.reason);
      expect(signals[0]?.aborted).toBe(true);
    }
  });

  it('rejects with ERR_KMS_UNAVAILABLE when Key Vault does not answer within timeoutMs', async () => {
    const error = await kmsRejection(new AzureKeyVaultKeyring({ keyId: V1, timeoutMs: 30, ...hangingVault().options }).onEncrypt({ context }));
    expect(error.code).toBe('ERR_KMS_UNAVAILABLE');
    expect((error.cause as Error).name).toBe('TimeoutError');
  });

  it('refuses a timeoutMs that is not a positive number', () => {
    expect(() => new AzureKeyVaultKeyring({ keyId: V1, timeoutMs: -5, ...hangingVault().options })).toThrow(TypeError);
  });
});
