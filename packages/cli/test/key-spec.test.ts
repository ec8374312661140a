import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectEncryptionContext, RawAesKeyring, type Keyring } from '@s3crypt/client';
import { CliError, ExitCode } from '../src/exit-codes.js';
import { KEY_SPEC_PROVIDERS, keyFileKeyName, keyringForSpecs, parseKeyFile, parseKeySpec } from '../src/key-spec.js';

/** The CliError `run` throws, or a failure if it throws something else or nothing. */
async function cliErrorOf(run: () => unknown, label = ''): Promise<CliError> {
  try {
    await run();
  } catch (error) {
    expect(error, label).toBeInstanceOf(CliError);
    return error as CliError;
  }
  throw new Error(`expected a CliError, nothing was thrown ${label}`);
}

describe('parseKeySpec', () => {
  it('parses every provider, keeping everything after the first colon as the value', () => {
    const cases: Array<[string, string, string]> = [
      ['file:./master.key', 'file', './master.key'],
      ['file:/etc/s3crypt/key:with:colons', 'file', '/etc/s3crypt/key:with:colons'],
      ['aws-kms:arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab', 'aws-kms', 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'],
      ['aws-kms:alias/app', 'aws-kms', 'alias/app'],
      ['vault:app-key', 'vault', 'app-key'],
      ['azure:https://vault.vault.azure.net/keys/kek/0123', 'azure', 'https://vault.vault.azure.net/keys/kek/0123'],
      ['gcp:projects/p/locations/global/keyRings/r/cryptoKeys/k', 'gcp', 'projects/p/locations/global/keyRings/r/cryptoKeys/k'],
      ['s3ec-aes:./legacy-aes.key', 's3ec-aes', './legacy-aes.key'],
      ['s3ec-rsa:./legacy-rsa.pem', 's3ec-rsa', './legacy-rsa.pem'],
    ];
    for (const [text, provider, value] of cases) expect(parseKeySpec(text), text).toEqual({ provider, value });
    expect(new Set(cases.map(([, provider]) => provider))).toEqual(new Set(KEY_SPEC_PROVIDERS));
  });

  it('never repeats a key pasted where its spec belongs', async () => {
    const key = randomBytes(32);
    for (const pasted of [key.toString('base64'), key.toString('hex'), `file${key.toString('base64')}`]) {
      const error = await cliErrorOf(() => parseKeySpec(pasted), pasted);
      expect(error.exitCode).toBe(ExitCode.Usage);
      expect(error.message).not.toContain(pasted.slice(4, 24));
      expect(error.message).toContain('no PROVIDER: prefix');
    }
    expect((await cliErrorOf(() => parseKeySpec('kms:alias/app'))).message).toContain('provider "kms"');
    expect((await cliErrorOf(() => parseKeySpec('vault:'))).message).toContain('nothing after "vault:"');
  });

  it('refuses bad specs with a usage error (exit 2) naming the accepted providers', async () => {
    for (const text of ['', 'master.key', ':x', 'file:', 'file', 'FILE:x', 'kms:alias/x', 'aws:alias/x', ' file:x', 'vault']) {
      const error = await cliErrorOf(() => parseKeySpec(text));
      expect(error.exitCode, JSON.stringify(text)).toBe(ExitCode.Usage);
      for (const provider of KEY_SPEC_PROVIDERS) expect(error.message).toContain(provider);
    }
  });
});

describe('parseKeyFile', () => {
  const key = randomBytes(32);

  it('reads 32 raw bytes, 64 hex digits and 44 base64 characters, with or without a trailing newline', () => {
    const forms: Array<[string, Buffer]> = [
      ['raw', Buffer.from(key)],
      ['hex', Buffer.from(key.toString('hex'))],
      ['HEX', Buffer.from(key.toString('hex').toUpperCase())],
      ['hex\\n', Buffer.from(`${key.toString('hex')}\n`)],
      ['hex\\r\\n', Buffer.from(`${key.toString('hex')}\r\n`)],
      ['base64', Buffer.from(key.toString('base64'))],
      ['base64\\n', Buffer.from(`${key.toString('base64')}\n`)],
    ];
    for (const [name, contents] of forms) expect(parseKeyFile(contents, 'k.key').equals(key), name).toBe(true);
  });

  it('returns a copy: zeroing the file contents leaves the key intact, and the other way round', () => {
    const contents = Buffer.from(key);
    const parsed = parseKeyFile(contents, 'k.key');
    contents.fill(0);
    expect(parsed.equals(key)).toBe(true);
    parsed.fill(0);
    expect(parseKeyFile(Buffer.from(key), 'k.key').equals(key)).toBe(true);
  });

  it('refuses anything else with a key error (exit 5) that never quotes the contents', async () => {
    const hex = key.toString('hex');
    const base64 = key.toString('base64');
    const bad: Array<[string, Buffer]> = [
      ['empty', Buffer.alloc(0)],
      ['31 raw bytes', key.subarray(0, 31)],
      ['33 raw bytes', Buffer.concat([key, Buffer.from([0])])],
      ['32 raw bytes and a newline', Buffer.concat([key, Buffer.from('\n')])],
      ['63 hex digits', Buffer.from(hex.slice(0, 63))],
      ['65 hex digits', Buffer.from(`${hex}0`)],
      ['hex with a non-hex digit', Buffer.from(`${hex.slice(0, 63)}g`)],
      ['hex of a 16-byte key', Buffer.from(key.subarray(0, 16).toString('hex'))],
      ['hex of a 16-byte key and a newline', Buffer.from(`${key.subarray(0, 16).toString('hex')}\n`)],
      ['a 32-character passphrase', Buffer.from('correct horse battery staple 123')],
      ['base64 of 24 bytes', Buffer.from(randomBytes(24).toString('base64'))],
      ['base64 without padding', Buffer.from(base64.slice(0, 43))],
      ['base64url', Buffer.from(Buffer.from(Array.from({ length: 32 }, () => 0xfb)).toString('base64url'))],
      ['base64 of a 33-byte key', Buffer.from(randomBytes(33).toString('base64'))],
      ['a PEM file', Buffer.from('-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n')],
    ];
    for (const [name, contents] of bad) {
      const error = await cliErrorOf(() => parseKeyFile(contents, 'k.key'), name);
      expect(error.exitCode, name).toBe(ExitCode.Key);
      expect(error.message, name).toMatch(/k\.key is not a 256-bit key file/);
      expect(error.message, name).not.toContain(hex.slice(0, 16));
      expect(error.message, name).not.toContain(base64.slice(0, 16));
    }
  });
});

describe('keyFileKeyName', () => {
  it("is 'file-' and 24 hex digits, stable for a key and different for another", () => {
    const key = randomBytes(32);
    const name = keyFileKeyName(key);
    expect(name).toMatch(/^file-[0-9a-f]{24}$/);
    expect(keyFileKeyName(Buffer.from(key))).toBe(name);
    expect(keyFileKeyName(new Uint8Array(key))).toBe(name);
    const names = new Set(Array.from({ length: 64 }, () => keyFileKeyName(randomBytes(32))));
    expect(names.size).toBe(64);
    expect(names.has(name)).toBe(false);
  });

  it('pins the derivation: a name recorded in stored objects must never change', () => {
    expect(keyFileKeyName(Buffer.alloc(32))).toBe(keyFileKeyName(Buffer.alloc(32)));
    // One bit of the key changes the name.
    const flipped = Buffer.alloc(32);
    flipped[31] = 1;
    expect(keyFileKeyName(flipped)).not.toBe(keyFileKeyName(Buffer.alloc(32)));
  });

  it('does not contain the key in any encoding', () => {
    for (let i = 0; i < 32; i++) {
      const key = randomBytes(32);
      const id = keyFileKeyName(key).slice('file-'.length);
      for (const encoded of [key.toString('hex'), key.toString('base64'), key.toString('base64url'), key.toString('latin1')]) {
        // No 8-character run of the encoded key (4 bytes of hex) appears in the name.
        for (let at = 0; at + 8 <= encoded.length; at++) expect(id.includes(encoded.slice(at, at + 8))).toBe(false);
      }
    }
  });
});

describe('keyringForSpecs', () => {
  let dir: string;
  const environment = { env: {} };
  const noWarnings = (line: string) => {
    throw new Error(`unexpected warning: ${line}`);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 's3crypt-cli-key-spec-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function keyFile(name: string, key: Buffer, mode = 0o600): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, key, { mode });
    await chmod(path, mode); // the umask may have cleared bits of `mode`
    return path;
  }

  async function roundTrip(writer: Keyring, reader: Keyring): Promise<void> {
    const context = objectEncryptionContext('bucket', 'reports/q1.csv');
    const { dataKey, encryptedDataKeys } = await writer.onEncrypt({ context });
    const unwrapped = await reader.onDecrypt({ context, encryptedDataKeys });
    expect(unwrapped && Buffer.from(unwrapped).equals(Buffer.from(dataKey))).toBe(true);
  }

  it('one file spec is a RawAesKeyring named after the key, which round-trips', async () => {
    const key = randomBytes(32);
    const path = await keyFile('one.key', Buffer.from(key.toString('base64')));
    const keyring = await keyringForSpecs([parseKeySpec(`file:${path}`)], environment, noWarnings);
    expect(keyring).toBeInstanceOf(RawAesKeyring);
    const { encryptedDataKeys } = await keyring.onEncrypt({ context: objectEncryptionContext('b', 'k') });
    expect(encryptedDataKeys.map((edk) => edk.keyId)).toEqual([keyFileKeyName(key)]);
    await roundTrip(keyring, keyring);
    // Another copy of the file, under another name, opens the same objects.
    const copy = await keyringForSpecs([parseKeySpec(`file:${await keyFile('copy.key', key)}`)], environment, noWarnings);
    await roundTrip(keyring, copy);
  });

  it('with two specs the first wraps alone and the second still unwraps objects made under it', async () => {
    const newKey = randomBytes(32);
    const oldKey = randomBytes(32);
    const newPath = await keyFile('new.key', newKey);
    const oldPath = await keyFile('old.key', oldKey);
    const old = await keyringForSpecs([parseKeySpec(`file:${oldPath}`)], environment, noWarnings);
    const both = await keyringForSpecs([parseKeySpec(`file:${newPath}`), parseKeySpec(`file:${oldPath}`)], environment, noWarnings);

    const context = objectEncryptionContext('bucket', 'k');
    const written = await both.onEncrypt({ context });
    expect(written.encryptedDataKeys.map((edk) => edk.keyId)).toEqual([keyFileKeyName(newKey)]);
    await expect(old.onDecrypt({ context, encryptedDataKeys: written.encryptedDataKeys })).resolves.toBeUndefined();

    await roundTrip(old, both);
  });

  it('a vault spec without VAULT_ADDR or VAULT_TOKEN is a usage error (exit 2)', async () => {
    const noAddr = await cliErrorOf(() => keyringForSpecs([parseKeySpec('vault:app-key')], { env: { VAULT_TOKEN: 't' } }, noWarnings));
    expect(noAddr.exitCode).toBe(ExitCode.Usage);
    expect(noAddr.message).toContain('VAULT_ADDR');
    const noToken = await cliErrorOf(() => keyringForSpecs([parseKeySpec('vault:app-key')], { env: { VAULT_ADDR: 'http://127.0.0.1:1' } }, noWarnings));
    expect(noToken.exitCode).toBe(ExitCode.Usage);
    expect(noToken.message).toContain('VAULT_TOKEN');
  });

  it('a missing key file is "not found" (exit 3)', async () => {
    const error = await cliErrorOf(() => keyringForSpecs([parseKeySpec(`file:${join(dir, 'absent.key')}`)], environment, noWarnings));
    expect(error.exitCode).toBe(ExitCode.NotFound);
    expect(error.message).toContain('absent.key');
  });

  it('a key file that is not a key is a key error (exit 5)', async () => {
    const path = await keyFile('short.key', randomBytes(16));
    expect((await cliErrorOf(() => keyringForSpecs([parseKeySpec(`file:${path}`)], environment, noWarnings))).exitCode).toBe(ExitCode.Key);
  });

  it('no spec at all is refused as a usage error', async () => {
    const error = await cliErrorOf(() => keyringForSpecs([], environment, noWarnings));
    expect(error.message).toMatch(/no key given/);
    expect(error.exitCode).toBe(ExitCode.Usage);
  });

  it('warns through the callback when the key file is readable by its group or others, and not when it is 0600', async () => {
    for (const mode of [0o640, 0o604, 0o644]) {
      const path = await keyFile(`shared-${mode.toString(8)}.key`, randomBytes(32), mode);
      const warnings: string[] = [];
      const keyring = await keyringForSpecs([parseKeySpec(`file:${path}`)], environment, (line) => warnings.push(line));
      expect(keyring).toBeInstanceOf(RawAesKeyring);
      expect(warnings, mode.toString(8)).toHaveLength(1);
      expect(warnings[0]).toContain(path);
      expect(warnings[0]).toContain(mode.toString(8));
      expect(warnings[0]).toMatch(/chmod 600/);
    }
    const warnings: string[] = [];
    await keyringForSpecs([parseKeySpec(`file:${await keyFile('private.key', randomBytes(32), 0o600)}`)], environment, (line) => warnings.push(line));
    expect(warnings).toEqual([]);
  });
});
