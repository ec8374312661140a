import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/exit-codes.js';
import { parseKeyFile } from '../src/key-spec.js';
import { main } from '../src/main.js';

/** Runs `s3crypt argv` in this process with captured output and an empty environment. */
async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  stdout.on('data', (chunk: Buffer) => chunks.stdout.push(chunk));
  stderr.on('data', (chunk: Buffer) => chunks.stderr.push(chunk));
  const stdin = new PassThrough();
  stdin.end();
  const code = await main(argv, { stdout, stderr, stdin, env });
  return { code, stdout: Buffer.concat(chunks.stdout).toString(), stderr: Buffer.concat(chunks.stderr).toString() };
}

const dir = mkdtempSync(join(tmpdir(), 's3crypt-cli-main-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('main: usage', () => {
  it('--help exits 0 with the usage, the key specs and the exit codes on stdout', async () => {
    const { code, stdout, stderr } = await run(['--help']);
    expect(code).toBe(ExitCode.Success);
    expect(stdout).toMatch(/^Usage: s3crypt /);
    for (const command of ['put', 'get', 'cat', 'cp', 'ls', 'inspect', 'verify', 'rotate', 'migrate', 'keygen', 'audit']) expect(stdout).toMatch(new RegExp(`\\n  ${command}\\b`));
    expect(stdout).toContain('file:PATH');
    expect(stdout).toContain('Exit codes: 0 success');
    expect(stderr).toBe('');
  });

  it("a command's --help exits 0", async () => {
    const { code, stdout } = await run(['keygen', '--help']);
    expect(code).toBe(ExitCode.Success);
    expect(stdout).toMatch(/^Usage: s3crypt keygen/);
  });

  it('--version exits 0 and prints the version', async () => {
    const { code, stdout } = await run(['--version']);
    expect(code).toBe(ExitCode.Success);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('an unknown command, an unknown option, a missing argument or no command at all is a usage error (exit 2)', async () => {
    const unknown = await run(['frobnicate']);
    expect(unknown.code).toBe(ExitCode.Usage);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(unknown.stdout).toBe('');
    expect((await run(['ls', '--no-such-option'])).code).toBe(ExitCode.Usage);
    expect((await run(['get', 's3://bucket/key'])).code).toBe(ExitCode.Usage);
    expect((await run(['--min-format-version', '3', 'ls'])).code).toBe(ExitCode.Usage);
    expect((await run([])).code).toBe(ExitCode.Usage);
  });

  it('argument errors found by a command are usage errors, reported on stderr', async () => {
    const notAnObject = await run(['cat', 's3://bucket/prefix/']);
    expect(notAnObject.code).toBe(ExitCode.Usage);
    expect(notAnObject.stderr).toMatch(/^s3crypt: the source must be an object/);
    expect((await run(['cat', 's3://bucket/key', '--range', '9-1'])).code).toBe(ExitCode.Usage);
  });
});

describe('main: keys, before any request', () => {
  it('a bad --key spec is a usage error (exit 2)', async () => {
    const { code, stderr } = await run(['--key', 'master.key', 'cat', 's3://bucket/key']);
    expect(code).toBe(ExitCode.Usage);
    expect(stderr).toMatch(/PROVIDER one of file, aws-kms, vault, azure, gcp/);
  });

  it('a missing key file is "not found" (exit 3), also through S3CRYPT_KEY', async () => {
    const missing = join(dir, 'missing.key');
    expect((await run(['--key', `file:${missing}`, 'cat', 's3://bucket/key'])).code).toBe(ExitCode.NotFound);
    expect((await run(['cat', 's3://bucket/key'], { S3CRYPT_KEY: `file:${missing}` })).code).toBe(ExitCode.NotFound);
  });

  it('no key at all is a usage error (exit 2) saying how to give one', async () => {
    const { code, stderr } = await run(['cat', 's3://bucket/key']);
    expect(code).toBe(ExitCode.Usage);
    expect(stderr).toMatch(/no key given: pass --key SPEC/);
  });
});

describe('main: keygen', () => {
  it('writes 32 random bytes, mode 0600, that --key file: reads', async () => {
    const file = join(dir, 'master.key');
    const { code, stdout, stderr } = await run(['keygen', file]);
    expect(code).toBe(ExitCode.Success);
    expect(stdout).toBe('');
    expect(stderr).toContain(`--key file:${file}`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const key = readFileSync(file);
    expect(key).toHaveLength(32);
    expect(parseKeyFile(key, file).equals(key)).toBe(true);
    // Another run, another key.
    const other = join(dir, 'other.key');
    expect((await run(['-q', 'keygen', other])).stderr).toBe('');
    expect(readFileSync(other).equals(key)).toBe(false);
  });

  it('never overwrites an existing file (exit 2), leaving it unchanged', async () => {
    const file = join(dir, 'existing.key');
    const before = randomBytes(32);
    writeFileSync(file, before, { mode: 0o600 });
    const { code, stderr } = await run(['keygen', file]);
    expect(code).toBe(ExitCode.Usage);
    expect(stderr).toMatch(/already exists/);
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it('into a directory that does not exist is "not found" (exit 3)', async () => {
    const file = join(dir, 'no-such-dir', 'master.key');
    expect((await run(['keygen', file])).code).toBe(ExitCode.NotFound);
    expect(existsSync(file)).toBe(false);
  });
});

describe('main: audit verify', () => {
  const publicKey = join(dir, 'checkpoint.pub.pem');
  writeFileSync(publicKey, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));

  it('a missing log file is "not found" (exit 3), naming it', async () => {
    const log = join(dir, 'missing-segment.log');
    const { code, stdout, stderr } = await run(['audit', 'verify', '--public-key', publicKey, log]);
    expect(code).toBe(ExitCode.NotFound);
    expect(stdout).toBe('');
    expect(stderr).toContain(log);
  });

  it('a missing public key is "not found" (exit 3)', async () => {
    const { code } = await run(['audit', 'verify', '--public-key', join(dir, 'missing.pem'), dir]);
    expect(code).toBe(ExitCode.NotFound);
  });

  it('--public-key is required (exit 2)', async () => {
    expect((await run(['audit', 'verify', dir])).code).toBe(ExitCode.Usage);
  });
});
