import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ResolvedKeyPolicy } from '../src/client/key-policy.js';
import { unwrapDataKey, wrapDataKey } from '../src/client/materials.js';
import { findEnvelope, parseEnvelope } from '../src/format/envelope.js';
import { objectEncryptionContext, type DecryptRequest, type EncryptRequest, type Keyring } from '../src/keyrings/keyring.js';
import { MultiKeyring } from '../src/keyrings/multi.js';
import { RawAesKeyring } from '../src/keyrings/raw-aes.js';
import { RsaKeyring } from '../src/keyrings/raw-rsa.js';
import { untilAborted } from '../src/keyrings/until-aborted.js';
import { BUCKET, KEY, putInMemory } from './helpers.js';

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

/** A keyring that ignores its signal: each call settles only when the test says so. */
function ignoringKeyring() {
  const pending: { settle: (value: unknown) => void }[] = [];
  const call = <T>() => new Promise<T>((resolve) => pending.push({ settle: resolve as (value: unknown) => void }));
  const keyring: Keyring = { onEncrypt: () => call(), onDecrypt: () => call() };
  return { keyring, pending };
}

describe('the client key seam and a keyring that ignores the signal', () => {
  const wrapped = { providerId: 'raw-aes', keyId: 'k1', ciphertext: new Uint8Array(60) };
  const envelopeFor = async () => {
    const stored = await putInMemory(new RawAesKeyring({ keyName: 'k1', masterKey: Buffer.alloc(32, 1) }), Buffer.from('x'), 4096);
    return parseEnvelope(findEnvelope(stored.metadata)!);
  };

  it('a write rejects with the abort reason at once, and a key generated too late is zeroed', async () => {
    const { keyring, pending } = ignoringKeyring();
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const writing = wrapDataKey(keyring, context, undefined, controller.signal);
    controller.abort(reason);
    await expect(writing).rejects.toBe(reason);
    const late = new Uint8Array(32).fill(9);
    pending[0]!.settle({ dataKey: late, encryptedDataKeys: [wrapped] });
    await new Promise((resolve) => setImmediate(resolve));
    expect(late.every((byte) => byte === 0)).toBe(true);
  });

  it('a key the caller gave (a copy, a rotation) is left alone when its wrap comes back too late', async () => {
    const { keyring, pending } = ignoringKeyring();
    const controller = new AbortController();
    const given = new Uint8Array(32).fill(7);
    const writing = wrapDataKey(keyring, context, given, controller.signal);
    controller.abort();
    await expect(writing).rejects.toMatchObject({ name: 'AbortError' });
    pending[0]!.settle({ dataKey: given, encryptedDataKeys: [wrapped] });
    await new Promise((resolve) => setImmediate(resolve));
    expect(given.every((byte) => byte === 7)).toBe(true);
  });

  it('a read rejects with the abort reason at once, and a key unwrapped too late is zeroed', async () => {
    const envelope = await envelopeFor();
    const { keyring, pending } = ignoringKeyring();
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const reading = unwrapDataKey(keyring, new ResolvedKeyPolicy({ trustedKeks: [{ providerId: 'raw-aes', keyId: 'k1' }] }, keyring), envelope, objectEncryptionContext(BUCKET, KEY), 'the object', controller.signal);
    await new Promise((resolve) => setImmediate(resolve));
    expect(pending).toHaveLength(1);
    controller.abort(reason);
    await expect(reading).rejects.toBe(reason);
    const late = new Uint8Array(32).fill(9);
    pending[0]!.settle(late);
    await new Promise((resolve) => setImmediate(resolve));
    expect(late.every((byte) => byte === 0)).toBe(true);
  });
});

describe('untilAborted (the keyring authors\' helper behind the seam)', () => {
  it('rejects at once with the reason of a signal already aborted, and hands the late result to discard', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    let settle!: (value: Uint8Array) => void;
    const late = new Uint8Array(32).fill(7);
    const discarded: Uint8Array[] = [];
    const waiting = untilAborted(new Promise<Uint8Array>((resolve) => (settle = resolve)), controller.signal, (value) => discarded.push(value.fill(0)));
    await expect(waiting).rejects.toThrow('stop');
    settle(late);
    await new Promise((resolve) => setImmediate(resolve));
    expect(discarded).toEqual([late]);
    expect(late.every((byte) => byte === 0)).toBe(true);
  });

  it('passes a result or failure through while the signal is quiet, and the call itself without a signal', async () => {
    const signal = new AbortController().signal;
    await expect(untilAborted(Promise.resolve('key'), signal)).resolves.toBe('key');
    await expect(untilAborted(Promise.reject(new Error('kms down')), signal)).rejects.toThrow('kms down');
    const call = Promise.resolve(1);
    expect(untilAborted(call, undefined)).toBe(call);
  });
});
