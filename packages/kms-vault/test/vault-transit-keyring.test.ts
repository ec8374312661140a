import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { objectEncryptionContext, type EncryptedDataKey } from '@s3crypt/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { transitAssociatedData, transitKeyVersion, VaultTransitKeyring, type VaultClientLike } from '../src/index.js';
import { kmsRejection } from '../../../test/harness/kms-rejection.js';

const context = objectEncryptionContext('bucket', 'key');
const KEY = new Uint8Array(32).fill(0x2a);
const KEY_B64 = Buffer.from(KEY).toString('base64');

interface Call {
  path: string;
  data: Record<string, unknown>;
  headers: Record<string, string> | undefined;
}

function fakeVault(respond: (call: Call) => unknown): VaultClientLike & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    async write(path, data, requestOptions) {
      const call = { path, data, headers: requestOptions?.headers };
      calls.push(call);
      return respond(call);
    },
  };
}

/** The error node-vault rejects with for a non-2xx answer. */
function apiError(statusCode: number, message: string): Error {
  return Object.assign(new Error(message), { response: { statusCode, body: { errors: [message] } } });
}

const edk = (ciphertext: string, keyId = 'transit/app', providerId = 'vault-transit'): EncryptedDataKey => ({
  providerId,
  keyId,
  ciphertext: new Uint8Array(Buffer.from(ciphertext)),
});

describe('transitAssociatedData', () => {
  it('is the same for the same context in any key order, and differs for another context', () => {
    const a = transitAssociatedData({ b: '2', a: '1' });
    expect(a).toBe(transitAssociatedData({ a: '1', b: '2' }));
    expect(Buffer.from(a, 'base64').toString()).toBe('[["a","1"],["b","2"]]');
    expect(a).not.toBe(transitAssociatedData({ a: '1', b: '3' }));
    // A separator inside a value cannot make two contexts collide.
    expect(transitAssociatedData({ a: '1","b' })).not.toBe(transitAssociatedData({ a: '1', b: '' }));
  });
});

describe('VaultTransitKeyring', () => {
  it('generates with datakey/plaintext and the context as associated_data', async () => {
    const client = fakeVault(() => ({ data: { plaintext: KEY_B64, ciphertext: 'vault:v3:QUJD', key_version: 3 } }));
    const keyring = new VaultTransitKeyring({ keyName: 'app', client, mountPath: '/transit/' });
    const result = await keyring.onEncrypt({ context });
    expect(result.dataKey).toEqual(KEY);
    expect(result.encryptedDataKeys).toEqual([{ providerId: 'vault-transit', keyId: 'transit/app', ciphertext: new Uint8Array(Buffer.from('vault:v3:QUJD')) }]);
    expect(transitKeyVersion(result.encryptedDataKeys[0]!)).toBe(3);
    expect(client.calls).toEqual([
      { path: 'transit/datakey/plaintext/app', data: { bits: 256, associated_data: transitAssociatedData(context) }, headers: undefined },
    ]);
  });

  it('wraps a given data key with encrypt', async () => {
    const client = fakeVault(() => ({ data: { ciphertext: 'vault:v1:QUJD' } }));
    const result = await new VaultTransitKeyring({ keyName: 'app', client, mountPath: 'kv/transit' }).onEncrypt({ context, dataKey: KEY });
    expect(result.dataKey).toBe(KEY);
    expect(result.encryptedDataKeys[0]?.keyId).toBe('kv/transit/app');
    expect(client.calls[0]).toMatchObject({ path: 'kv/transit/encrypt/app', data: { plaintext: KEY_B64, associated_data: transitAssociatedData(context) } });
  });

  it('fails closed when Vault answers without a vault:vN: ciphertext or a 32-byte key', async () => {
    for (const data of [{ plaintext: KEY_B64, ciphertext: 'QUJD' }, { plaintext: 'AAAA', ciphertext: 'vault:v1:QUJD' }, {}]) {
      const keyring = new VaultTransitKeyring({ keyName: 'app', client: fakeVault(() => ({ data })) });
      expect((await kmsRejection(keyring.onEncrypt({ context }))).code).toBe('ERR_KMS_FAILED');
    }
  });

  it('decrypts only its own encrypted data keys, with the context as associated_data', async () => {
    const client = fakeVault(() => ({ data: { plaintext: KEY_B64 } }));
    const keyring = new VaultTransitKeyring({ keyName: 'app', client });
    const plaintext = await keyring.onDecrypt({
      context,
      encryptedDataKeys: [edk('vault:v1:T1RIRVI=', 'transit/other'), edk('vault:v1:UkFX', 'transit/app', 'raw-aes'), edk('vault:v2:TUlORQ==')],
    });
    expect(plaintext).toEqual(KEY);
    expect(client.calls).toEqual([
      { path: 'transit/decrypt/app', data: { ciphertext: 'vault:v2:TUlORQ==', associated_data: transitAssociatedData(context) }, headers: undefined },
    ]);
  });

  it('returns undefined without calling Vault when no encrypted data key is its own', async () => {
    const client = fakeVault(() => {
      throw new Error('must not be called');
    });
    const keyring = new VaultTransitKeyring({ keyName: 'app', client });
    expect(await keyring.onDecrypt({ context, encryptedDataKeys: [edk('vault:v1:QUJD', 'transit/other'), edk('vault:v1:QUJD', 'other/app')] })).toBeUndefined();
    expect(client.calls).toHaveLength(0);
  });

  it('rejects its own encrypted data key that is not a Transit ciphertext, without calling Vault', async () => {
    const client = fakeVault(() => ({ data: { plaintext: KEY_B64 } }));
    const error = await kmsRejection(new VaultTransitKeyring({ keyName: 'app', client }).onDecrypt({ context, encryptedDataKeys: [edk('garbage')] }));
    expect(error.code).toBe('ERR_KMS_WRONG_KEY');
    expect(client.calls).toHaveLength(0);
  });

  it('asks the token provider before each request and sends its token', async () => {
    let n = 0;
    const client = fakeVault(() => ({ data: { plaintext: KEY_B64, ciphertext: 'vault:v1:QUJD' } }));
    const keyring = new VaultTransitKeyring({ keyName: 'app', client, auth: async () => `token-${++n}` });
    await keyring.onEncrypt({ context });
    await keyring.onDecrypt({ context, encryptedDataKeys: [edk('vault:v1:QUJD')] });
    expect(client.calls.map((c) => c.headers)).toEqual([{ 'X-Vault-Token': 'token-1' }, { 'X-Vault-Token': 'token-2' }]);
  });

  it('maps a failing token provider to ERR_KMS_ACCESS_DENIED without calling Vault', async () => {
    const client = fakeVault(() => ({}));
    const cause = new Error('login failed');
    const keyring = new VaultTransitKeyring({ keyName: 'app', client, auth: () => Promise.reject(cause) });
    const error = await kmsRejection(keyring.onEncrypt({ context }));
    expect(error).toMatchObject({ code: 'ERR_KMS_ACCESS_DENIED', keyId: 'transit/app', cause });
    expect(client.calls).toHaveLength(0);
  });

  const cases = [
    ['403 permission denied', apiError(403, 'permission denied'), 'ERR_KMS_ACCESS_DENIED', 'ERR_KMS_ACCESS_DENIED'],
    ['429', apiError(429, 'request path "transit/decrypt/app": rate limit quota exceeded'), 'ERR_KMS_THROTTLED', 'ERR_KMS_THROTTLED'],
    ['503 sealed', apiError(503, 'Vault is sealed'), 'ERR_KMS_UNAVAILABLE', 'ERR_KMS_UNAVAILABLE'],
    ['a soft-deleted key', apiError(400, 'refusing to use soft-deleted key'), 'ERR_KMS_KEY_DISABLED', 'ERR_KMS_KEY_DISABLED'],
    ['a version below min_decryption_version', apiError(400, 'ciphertext or signature version is disallowed by policy (too old)'), 'ERR_KMS_KEY_DISABLED', 'ERR_KMS_KEY_DISABLED'],
    ['a deleted key', apiError(400, 'encryption key not found'), 'ERR_KMS_KEY_NOT_FOUND', 'ERR_KMS_KEY_NOT_FOUND'],
    ['404 no mount', apiError(404, 'no handler for route "nope/decrypt/app". route entry not found.'), 'ERR_KMS_KEY_NOT_FOUND', 'ERR_KMS_KEY_NOT_FOUND'],
    ['an authentication failure', apiError(400, 'cipher: message authentication failed'), 'ERR_KMS_FAILED', 'ERR_KMS_WRONG_KEY'],
    ['ECONNREFUSED', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'ERR_KMS_UNAVAILABLE', 'ERR_KMS_UNAVAILABLE'],
    ['anything else', new Error('boom'), 'ERR_KMS_FAILED', 'ERR_KMS_FAILED'],
  ] as const;

  for (const [name, vendorError, writeCode, readCode] of cases) {
    it(`maps ${name} to ${writeCode} on writes and ${readCode} on reads, naming the key and keeping the cause`, async () => {
      const client = fakeVault(() => {
        throw vendorError;
      });
      const keyring = new VaultTransitKeyring({ keyName: 'app', client });
      for (const [attempt, code] of [
        [() => keyring.onEncrypt({ context }), writeCode],
        [() => keyring.onEncrypt({ context, dataKey: KEY }), writeCode],
        [() => keyring.onDecrypt({ context, encryptedDataKeys: [edk('vault:v1:QUJD')] }), readCode],
      ] as const) {
        const error = await kmsRejection(attempt());
        expect(error.code).toBe(code);
        expect(error.keyId).toBe('transit/app');
        expect(error.message).toContain('transit/app');
        expect(error.cause).toBe(vendorError);
      }
    });
  }

  it('rejects bad key names and mount paths with a TypeError', () => {
    expect(() => new VaultTransitKeyring({ keyName: '../x', client: fakeVault(() => ({})) })).toThrow(TypeError);
    expect(() => new VaultTransitKeyring({ keyName: 'a', mountPath: 'a//b', client: fakeVault(() => ({})) })).toThrow(TypeError);
  });
});

describe('VaultTransitKeyring with the real node-vault client against a stub server', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
  });

  async function vaultAnswering(status: number, body: unknown): Promise<{ endpoint: string; seen: { url?: string; token?: string }[] }> {
    const seen: { url?: string; token?: string }[] = [];
    server = createServer((req, res) => {
      seen.push({ url: req.url, token: req.headers['x-vault-token'] as string | undefined });
      req.resume();
      req.on('end', () => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
  }

  it('sends the token and path the keyring asks for', async () => {
    const { endpoint, seen } = await vaultAnswering(200, { data: { plaintext: KEY_B64, ciphertext: 'vault:v1:QUJD' } });
    const keyring = new VaultTransitKeyring({ keyName: 'app', endpoint, token: 'static' });
    await keyring.onEncrypt({ context });
    const withAuth = new VaultTransitKeyring({ keyName: 'app', endpoint, token: 'static', auth: async () => 'dynamic' });
    await withAuth.onDecrypt({ context, encryptedDataKeys: [edk('vault:v1:QUJD')] });
    expect(seen).toEqual([
      { url: '/v1/transit/datakey/plaintext/app', token: 'static' },
      { url: '/v1/transit/decrypt/app', token: 'dynamic' },
    ]);
  });

  for (const [status, code] of [
    [429, 'ERR_KMS_THROTTLED'],
    [403, 'ERR_KMS_ACCESS_DENIED'],
    [503, 'ERR_KMS_UNAVAILABLE'],
  ] as const) {
    it(`maps HTTP ${status} to ${code}`, async () => {
      const { endpoint } = await vaultAnswering(status, { errors: ['stub says no'] });
      const error = await kmsRejection(new VaultTransitKeyring({ keyName: 'app', endpoint, token: 't' }).onEncrypt({ context }));
      expect(error.code).toBe(code);
    });
  }

  it('maps a refused connection to ERR_KMS_UNAVAILABLE', async () => {
    const { endpoint } = await vaultAnswering(200, {});
    await new Promise((resolve) => server!.close(resolve));
    server = undefined;
    const error = await kmsRejection(new VaultTransitKeyring({ keyName: 'app', endpoint, token: 't' }).onDecrypt({ context, encryptedDataKeys: [edk('vault:v1:QUJD')] }));
    expect(error.code).toBe('ERR_KMS_UNAVAILABLE');
    expect(error.message).toMatch(/could not be reached.*ECONNREFUSED/);
  });
});

describe('VaultTransitKeyring.kekMatchers', () => {
  it('names <mount>/<key> exactly, as its envelopes do, every version included', async () => {
    const vault = fakeVault(() => ({ data: { ciphertext: 'vault:v3:AAAA' } }));
    const keyring = new VaultTransitKeyring({ keyName: 'app', mountPath: '/kv/transit/', client: vault });
    expect(keyring.kekMatchers()).toEqual([{ providerId: 'vault-transit', keyId: 'kv/transit/app' }]);
    const { encryptedDataKeys } = await keyring.onEncrypt({ context: {}, dataKey: new Uint8Array(32) });
    expect(encryptedDataKeys[0]?.keyId).toBe('kv/transit/app');
  });
});

describe('VaultTransitKeyring cancellation and timeout', () => {
  /** A Vault client that records the request options and never answers. */
  function hangingVault() {
    const signals: (AbortSignal | undefined)[] = [];
    const client: VaultClientLike = {
      write: (_path, _data, requestOptions) => {
        signals.push(requestOptions?.signal);
        return new Promise(() => undefined);
      },
    };
    return { client, signals };
  }

  it('passes a signal with each request, aborted when the caller aborts, and rejects with the caller\'s reason', async () => {
    const { client, signals } = hangingVault();
    const controller = new AbortController();
    const pending = new VaultTransitKeyring({ keyName: 'app', client, auth: async () => 'token' }).onEncrypt({ context: {}, signal: controller.signal });
    await vi.waitFor(() => expect(signals).toHaveLength(1));
    expect(signals[0]?.aborted).toBe(false);
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(signals[0]?.aborted).toBe(true);
  });

  it('rejects with ERR_KMS_UNAVAILABLE when Vault does not answer within timeoutMs, a hanging token provider included', async () => {
    const hangingAuth = () => new Promise<string>(() => undefined);
    for (const options of [{ client: hangingVault().client }, { client: hangingVault().client, auth: hangingAuth }]) {
      const error = await kmsRejection(new VaultTransitKeyring({ keyName: 'app', timeoutMs: 30, ...options }).onDecrypt({ context: {}, encryptedDataKeys: [edk('vault:v1:AAAA')] }));
      expect(error.code).toBe('ERR_KMS_UNAVAILABLE');
      expect((error.cause as Error).name).toBe('TimeoutError');
    }
  });

  it('refuses a timeoutMs that is not a positive number', () => {
    expect(() => new VaultTransitKeyring({ keyName: 'app', client: hangingVault().client, timeoutMs: 0 })).toThrow(TypeError);
  });
});
