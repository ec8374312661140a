// One error identity across copies of @s3crypt/client: a second, independent copy of errors.ts is
// compiled into a temporary directory and loaded beside this one, as when a KMS package resolves its
// own copy of the client.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as errors from '../src/errors.js';
import { DecryptionError, KmsError, S3CryptError } from '../src/errors.js';
import { ResolvedKeyPolicy } from '../src/client/key-policy.js';
import { unwrapDataKey, wrapDataKey } from '../src/client/materials.js';
import { MultiKeyring } from '../src/keyrings/multi.js';
import type { Keyring } from '../src/keyrings/keyring.js';
import { putInMemory, testKeyring } from './helpers.js';
import { findEnvelope, parseEnvelope } from '../src/format/envelope.js';
import { objectEncryptionContext } from '../src/keyrings/keyring.js';

let directory: string;
let other: typeof errors;

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 's3crypt-second-copy-'));
  const source = readFileSync(new URL('../src/errors.ts', import.meta.url), 'utf8');
  const { outputText } = ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } });
  const file = join(directory, 'errors.mjs');
  writeFileSync(file, outputText);
  other = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as typeof errors;
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

/** A keyring whose KMS calls fail with another copy's KmsError, as a KMS package with its own copy would. */
function failingKeyring(error: () => unknown): Keyring {
  return {
    kekMatchers: () => [{ providerId: 'raw-aes', keyId: 'unit-test-key' }],
    onEncrypt: () => Promise.reject(error()),
    onDecrypt: () => Promise.reject(error()),
  } as unknown as Keyring;
}

describe('error identity across copies of @s3crypt/client', () => {
  it('the second copy is a different module with different classes', () => {
    expect(other.KmsError).not.toBe(KmsError);
    expect(Object.getPrototypeOf(new other.KmsError('ERR_KMS_UNAVAILABLE', 'k', 'm'))).not.toBe(KmsError.prototype);
  });

  it('instanceof holds across copies, in both directions, for the error’s own class and its bases', () => {
    const foreign = new other.KmsError('ERR_KMS_UNAVAILABLE', 'key', 'KMS unreachable');
    expect(foreign).toBeInstanceOf(KmsError);
    expect(foreign).toBeInstanceOf(S3CryptError);
    expect(new DecryptionError('ERR_DECRYPTION_FAILED')).toBeInstanceOf(other.DecryptionError);
    expect(new DecryptionError('ERR_DECRYPTION_FAILED')).toBeInstanceOf(other.S3CryptError);
  });

  it('instanceof KmsError is true only for KMS errors, from any copy', () => {
    expect(new other.DecryptionError('ERR_DECRYPTION_FAILED')).not.toBeInstanceOf(KmsError);
    expect(new other.KeyringError('ERR_KEY_WRAP_FAILED', 'm')).not.toBeInstanceOf(KmsError);
    expect(new other.KmsError('ERR_KMS_FAILED', 'k', 'm')).not.toBeInstanceOf(DecryptionError);
    expect(new other.S3CryptError('ERR_KMS_FAILED', 'm')).not.toBeInstanceOf(KmsError);
    expect(new Error('plain')).not.toBeInstanceOf(S3CryptError);
    expect(Object.assign(new Error('look-alike'), { code: 'ERR_KMS_FAILED', name: 'KmsError' })).not.toBeInstanceOf(KmsError);
    for (const value of [null, undefined, 'KmsError', 42, {}]) expect(value).not.toBeInstanceOf(S3CryptError);
  });

  it('a caller’s own subclass keeps the ordinary instanceof', () => {
    class RetryableKmsError extends KmsError {}
    expect(new RetryableKmsError('ERR_KMS_THROTTLED', 'k', 'm')).toBeInstanceOf(KmsError);
    expect(new other.KmsError('ERR_KMS_THROTTLED', 'k', 'm')).not.toBeInstanceOf(RetryableKmsError);
    expect(new KmsError('ERR_KMS_THROTTLED', 'k', 'm')).not.toBeInstanceOf(RetryableKmsError);
  });

  it('a KmsError of another copy thrown by a keyring keeps its code through wrapping (never ERR_KEY_WRAP_FAILED)', async () => {
    const thrown = new other.KmsError('ERR_KMS_UNAVAILABLE', 'key', 'KMS unreachable');
    const rejection = await wrapDataKey(failingKeyring(() => thrown), objectEncryptionContext('b', 'k')).catch((e: unknown) => e);
    expect(rejection).toBe(thrown);
    expect((rejection as KmsError).code).toBe('ERR_KMS_UNAVAILABLE');
  });

  it('… and through unwrapping (never ERR_KEY_UNWRAP_FAILED)', async () => {
    const stored = await putInMemory(testKeyring(), Buffer.from('x'), 4096);
    const envelope = parseEnvelope(findEnvelope(stored.metadata)!);
    const thrown = new other.KmsError('ERR_KMS_ACCESS_DENIED', 'key', 'denied');
    const keyring = failingKeyring(() => thrown);
    const policy = new ResolvedKeyPolicy(undefined, keyring);
    const rejection = await unwrapDataKey(keyring, policy, envelope, objectEncryptionContext('vectors', 'object', envelope.version), 'the object').catch((e: unknown) => e);
    expect(rejection).toBe(thrown);
  });

  it('a multi-keyring reports another copy’s typed error as it is, ahead of untyped failures', async () => {
    const thrown = new other.KmsError('ERR_KMS_UNAVAILABLE', 'key', 'KMS unreachable');
    const multi = new MultiKeyring({ generator: failingKeyring(() => new Error('untyped')), children: [failingKeyring(() => thrown)] });
    const rejection = await multi.onDecrypt({ context: {}, encryptedDataKeys: [] }).catch((e: unknown) => e);
    expect(rejection).toBe(thrown);
  });
});
