// The `s3crypt` binary as a subprocess against the real MinIO (and OpenBao and moto for the KMS key
// specs): every command, and the exit codes scripts rely on.
import { DeleteObjectCommand, GetObjectCommand, ListMultipartUploadsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cliEnvironment, runCli } from './harness/cli.js';
import { markedBytes, MARKER } from './harness/clients.js';
import { startHostileStore } from './harness/hostile-store.js';
import { freshBucket, s3Client, type S3Endpoint } from './harness/minio.js';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { kmsClient, motoFromEnvOrStarted } from './harness/moto.js';
import { openBaoWithTransit, type OpenBao } from './harness/openbao.js';
import type { RunningServer } from './harness/process.js';
import { tempDir } from './harness/process.js';

const EXIT = { ok: 0, usage: 2, notFound: 3, integrity: 4, key: 5, partial: 6 } as const;

let s3: S3Endpoint;
let plain: S3Client;
let bucket: string;
let dir: string;
let keyA: string;
let keyB: string;
let env: NodeJS.ProcessEnv;

async function stored(key: string): Promise<Buffer> {
  const out = await plain.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

/** Rewrites one stored byte, keeping the metadata (the envelope) as it was: a tampering store. */
async function tamper(key: string, offset = 100): Promise<void> {
  const out = await plain.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = Buffer.from(await out.Body!.transformToByteArray());
  bytes[offset]! ^= 0x01;
  await plain.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, Metadata: out.Metadata }));
}

function cli(args: readonly string[], options: { stdin?: Buffer | string; env?: NodeJS.ProcessEnv } = {}) {
  return runCli(args, { env: options.env ?? env, ...(options.stdin !== undefined ? { stdin: options.stdin } : {}) });
}

beforeAll(async () => {
  s3 = inject('s3');
  plain = s3Client(s3);
  bucket = await freshBucket(plain, 'cli');
  dir = tempDir('s3crypt-cli-');
  keyA = join(dir, 'a.key');
  keyB = join(dir, 'b.key');
  env = cliEnvironment(s3, { S3CRYPT_KEY: `file:${keyA}` });
  for (const key of [keyA, keyB]) expect((await runCli(['keygen', key], { env })).code).toBe(EXIT.ok);
});

describe('help and usage', () => {
  it('every command has --help, exit 0', async () => {
    for (const command of [[], ['put'], ['get'], ['cp'], ['cat'], ['ls'], ['inspect'], ['verify'], ['rotate'], ['migrate'], ['keygen'], ['audit', 'verify']]) {
      const result = await cli([...command, '--help']);
      expect(result.code, command.join(' ')).toBe(EXIT.ok);
      expect(result.stdout.toString()).toMatch(/^Usage: s3crypt/);
    }
  });

  it('bad usage is exit 2 with a message', async () => {
    const cases = [['frobnicate'], ['put'], ['get', 'not-an-s3-url', 'out'], ['cat', 's3://b/k', '--range', 'x-y'], ['put', 'f', 's3://b/k', '--key', 'nope:x'], ['rotate', `s3://${bucket}`]];
    for (const args of cases) {
      const result = await cli(args);
      expect(result.code, args.join(' ')).toBe(EXIT.usage);
      expect(result.stderr.length, args.join(' ')).toBeGreaterThan(0);
    }
  });
});

describe('keygen', () => {
  it('writes 32 random bytes with mode 0600 and never overwrites (exit 2)', async () => {
    expect(statSync(keyA).mode & 0o777).toBe(0o600);
    const before = readFileSync(keyA);
    expect(before).toHaveLength(32);
    expect(before.equals(readFileSync(keyB))).toBe(false);
    const again = await cli(['keygen', keyA]);
    expect(again.code).toBe(EXIT.usage);
    expect(again.stderr).toMatch(/already exists/);
    expect(readFileSync(keyA).equals(before)).toBe(true);
  });
});

describe('put, get, cat', () => {
  const plaintext = markedBytes(3 * 1024 * 1024 + 17);

  it('round-trips a file; the store holds only ciphertext', async () => {
    const file = join(dir, 'report.bin');
    writeFileSync(file, plaintext);
    expect((await cli(['put', file, `s3://${bucket}/docs/report.bin`])).code).toBe(EXIT.ok);
    expect((await stored('docs/report.bin')).includes(MARKER)).toBe(false);
    const out = join(dir, 'report.out');
    const got = await cli(['get', `s3://${bucket}/docs/report.bin`, out]);
    expect(got.code, got.stderr).toBe(EXIT.ok);
    expect(readFileSync(out).equals(plaintext)).toBe(true);
    // Into a folder: the key's last segment names the file.
    const folder = join(dir, 'into');
    mkdirSync(folder);
    expect((await cli(['get', `s3://${bucket}/docs/report.bin`, folder])).code).toBe(EXIT.ok);
    expect(readFileSync(join(folder, 'report.bin')).equals(plaintext)).toBe(true);
  });

  it('stdin to stdout, and cat with an authenticated range', async () => {
    expect((await cli(['put', '-', `s3://${bucket}/docs/piped.bin`], { stdin: plaintext })).code).toBe(EXIT.ok);
    const got = await cli(['get', `s3://${bucket}/docs/piped.bin`, '-']);
    expect(got.code).toBe(EXIT.ok);
    expect(got.stdout.equals(plaintext)).toBe(true);
    const range = await cli(['cat', `s3://${bucket}/docs/piped.bin`, '--range', '1000-1999']);
    expect(range.code).toBe(EXIT.ok);
    expect(range.stdout.equals(plaintext.subarray(1000, 2000))).toBe(true);
    const suffix = await cli(['cat', `s3://${bucket}/docs/piped.bin`, '--range', '-10']);
    expect(suffix.stdout.equals(plaintext.subarray(plaintext.length - 10))).toBe(true);
  });

  it('large objects download as parallel ranged GETs (--ranges-in-flight; 1 is one GET), authenticated: a tampered range is exit 4 and no file', async () => {
    const large = markedBytes(40 * 1024 * 1024 + 5, 11);
    const file = join(dir, 'large.bin');
    writeFileSync(file, large);
    expect((await cli(['put', file, `s3://${bucket}/docs/large.bin`])).code).toBe(EXIT.ok);
    const store = await startHostileStore(s3);
    try {
      const watched = cliEnvironment(store.endpoint, { S3CRYPT_KEY: `file:${keyA}` });
      const dataGets = () => store.requests.filter((r) => r.method === 'GET' && r.range !== undefined && !r.range.startsWith('bytes=-')).length;
      for (const [flags, gets] of [[[], 6], [['--ranges-in-flight', '1'], 1]] as const) {
        store.reset();
        const out = join(dir, `large-${gets}.out`);
        const got = await cli([...flags, 'get', `s3://${bucket}/docs/large.bin`, out], { env: watched });
        expect(got.code, got.stderr.toString()).toBe(EXIT.ok);
        expect(readFileSync(out).equals(large)).toBe(true);
        // ~39.75 MiB before the tail in ranges of whole segments up to 8 MiB (31 × 256 KiB): six ranged
        // GETs; or the one GET of a single read.
        expect(dataGets()).toBe(gets);
      }
    } finally {
      await store.stop();
    }
    await tamper('docs/large.bin', 30 * 1024 * 1024);
    const target = join(dir, 'large-tampered', 'large.bin');
    mkdirSync(join(dir, 'large-tampered'));
    const got = await cli(['get', `s3://${bucket}/docs/large.bin`, target]);
    expect(got.code).toBe(EXIT.integrity);
    expect(readdirSync(join(dir, 'large-tampered'))).toEqual([]);
    // The bucket-wide verify below expects exactly one tampered object.
    await plain.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'docs/large.bin' }));
  });

  it('put --json returns the identity; get, cat and verify --expect-id refuse any other write of the key (exit 4)', async () => {
    const first = await cli(['put', '-', `s3://${bucket}/docs/versioned.txt`, '--json'], { stdin: 'first' });
    const { objectId } = JSON.parse(first.stdout.toString()) as { objectId: string };
    expect(objectId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await cli(['cat', `s3://${bucket}/docs/versioned.txt`, '--expect-id', objectId])).stdout.toString()).toBe('first');
    // The key is overwritten (or a store rolls it back to an older write): the identity no longer matches.
    expect((await cli(['put', '-', `s3://${bucket}/docs/versioned.txt`], { stdin: 'second' })).code).toBe(EXIT.ok);
    for (const args of [['cat', `s3://${bucket}/docs/versioned.txt`], ['get', `s3://${bucket}/docs/versioned.txt`, '-'], ['verify', `s3://${bucket}/docs/versioned.txt`]]) {
      const result = await cli([...args, '--expect-id', objectId]);
      expect(result.code, args[0]).toBe(EXIT.integrity);
      expect(result.stderr).toMatch(/ERR_OBJECT_ID_MISMATCH/);
      expect(result.stdout.toString()).not.toContain('second');
    }
  });

  it('--context binds the object to an encryption context every reader must give again', async () => {
    expect((await cli(['--context', 'tenant=acme', 'put', '-', `s3://${bucket}/docs/tenant.txt`], { stdin: 'acme only' })).code).toBe(EXIT.ok);
    expect((await cli(['--context', 'tenant=acme', 'cat', `s3://${bucket}/docs/tenant.txt`])).stdout.toString()).toBe('acme only');
    const without = await cli(['cat', `s3://${bucket}/docs/tenant.txt`]);
    expect([EXIT.integrity, EXIT.key]).toContain(without.code);
    expect(without.stdout.length).toBe(0);
    expect((await cli(['--context', 'tenant=other', 'cat', `s3://${bucket}/docs/tenant.txt`])).stdout.length).toBe(0);
    // Readable only with its context: not part of the bucket-wide verify below.
    await plain.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'docs/tenant.txt' }));
  });

  it('missing objects, buckets and files are exit 3', async () => {
    expect((await cli(['get', `s3://${bucket}/no/such`, join(dir, 'x')])).code).toBe(EXIT.notFound);
    expect((await cli(['cat', `s3://${bucket}/no/such`])).code).toBe(EXIT.notFound);
    expect((await cli(['cat', `s3://no-such-bucket-${Date.now()}/k`])).code).toBe(EXIT.notFound);
    expect((await cli(['put', join(dir, 'no-such-file'), `s3://${bucket}/x`])).code).toBe(EXIT.notFound);
    expect((await cli(['inspect', `s3://${bucket}/no/such`])).code).toBe(EXIT.notFound);
    expect((await cli(['verify', `s3://${bucket}/no/such`])).code).toBe(EXIT.notFound);
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });

  it('a tampered object is exit 4, and get leaves no file, not even a partial one', async () => {
    writeFileSync(join(dir, 'victim.bin'), plaintext);
    expect((await cli(['put', join(dir, 'victim.bin'), `s3://${bucket}/tampered/victim.bin`])).code).toBe(EXIT.ok);
    await tamper('tampered/victim.bin', 2 * 1024 * 1024);
    const target = tempDir('s3crypt-cli-get-');
    const got = await cli(['get', `s3://${bucket}/tampered/victim.bin`, join(target, 'victim.bin')]);
    expect(got.code).toBe(EXIT.integrity);
    expect(got.stderr).toMatch(/ERR_DECRYPTION_FAILED/);
    expect(got.stderr).toMatch(/tampered\/victim\.bin/);
    expect(readdirSync(target)).toEqual([]);
    expect((await cli(['verify', `s3://${bucket}/tampered/victim.bin`])).code).toBe(EXIT.integrity);
  });

  it('the wrong key, and a KMS that cannot be reached, are exit 5', async () => {
    const wrong = await cli(['get', `s3://${bucket}/docs/report.bin`, '-', '--key', `file:${keyB}`]);
    expect(wrong.code).toBe(EXIT.key);
    expect(wrong.stderr).toMatch(/ERR_(KEY_NOT_ALLOWED|NO_MATCHING_KEY)/);
    const down = await cli(['put', '-', `s3://${bucket}/kms-down`, '--key', 'vault:s3crypt'], { stdin: 'x', env: { ...env, VAULT_ADDR: 'http://127.0.0.1:9', VAULT_TOKEN: 't' } });
    expect(down.code).toBe(EXIT.key);
    expect(down.stderr).toMatch(/ERR_KMS_UNAVAILABLE/);
    // Nothing was uploaded without a wrapped key.
    await expect(plain.send(new GetObjectCommand({ Bucket: bucket, Key: 'kms-down' }))).rejects.toMatchObject({ name: 'NoSuchKey' });
  });
});

describe('ls, inspect, verify', () => {
  it('ls shows plaintext sizes, formats and KEKs; --json and -H', async () => {
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'listing/plain.txt', Body: 'hello' }));
    expect((await cli(['put', '-', `s3://${bucket}/listing/secret.bin`], { stdin: Buffer.alloc(5000, 1) })).code).toBe(EXIT.ok);
    const text = await cli(['ls', `s3://${bucket}/listing/`]);
    expect(text.code, text.stderr).toBe(EXIT.ok);
    const lines = text.stdout.toString().trim().split('\n');
    expect(lines.find((line) => line.endsWith('listing/secret.bin'))).toMatch(/ 5000 s3crypt v2 +raw-aes:file-[0-9a-f]{24} /);
    expect(lines.find((line) => line.endsWith('listing/plain.txt'))).toMatch(/ 5 plaintext /);
    const json = (await cli(['ls', `s3://${bucket}/listing/`, '--json'])).stdout.toString().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(json.find((entry) => entry.key === 'listing/secret.bin')).toMatchObject({ size: 5000, format: 's3crypt', formatVersion: 2 });
    expect((json.find((entry) => entry.key === 'listing/secret.bin')!.storedSize as number) > 5000).toBe(true);
    const human = await cli(['ls', `s3://${bucket}/docs/`, '-H']);
    expect(human.stdout.toString()).toMatch(/3\.0 MiB s3crypt v2/);
    const top = await cli(['ls', `s3://${bucket}`]);
    expect(top.stdout.toString()).toMatch(/PRE listing\//);
  });

  it('inspect shows the envelope and never key material', async () => {
    const result = await cli(['inspect', `s3://${bucket}/listing/secret.bin`, '--json']);
    expect(result.code, result.stderr).toBe(EXIT.ok);
    const description = JSON.parse(result.stdout.toString()) as Record<string, unknown>;
    expect(description).toMatchObject({ format: 's3crypt', formatVersion: 2, plaintextLength: 5000, authenticated: false });
    expect((description.keks as { providerId: string }[])[0]!.providerId).toBe('raw-aes');
    expect(description.objectId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const out = result.stdout.toString();
    for (const key of [keyA, keyB]) {
      const bytes = readFileSync(key);
      for (const encoding of ['base64', 'hex', 'base64url'] as const) expect(out).not.toContain(bytes.toString(encoding));
    }
    const text = await cli(['inspect', `s3://${bucket}/listing/secret.bin`]);
    expect(text.stdout.toString()).toMatch(/format\s+s3crypt v2/);
  });

  it('verify authenticates one object or a prefix; a tampered one is named and the run is exit 6', async () => {
    const ok = await cli(['verify', `s3://${bucket}/docs/report.bin`]);
    expect(ok.code, ok.stderr).toBe(EXIT.ok);
    expect(ok.stdout.toString()).toMatch(/^OK s3:\/\/.*docs\/report\.bin: s3crypt v2, 3145745 bytes/);
    const all = await cli(['verify', `s3://${bucket}/`, '--recursive', '--allow-plaintext-read', `s3://${bucket}/listing/plain.txt`]);
    expect(all.code).toBe(EXIT.partial);
    expect(all.stdout.toString()).toMatch(/FAILED s3:\/\/.*tampered\/victim\.bin: ERR_DECRYPTION_FAILED/);
    expect(all.stdout.toString()).toMatch(/plaintext 1, failed 1/);
  });
});

describe('cp', () => {
  it('copies folders to a prefix, a prefix to a folder and to another prefix, skipping what is already there', async () => {
    const source = tempDir('s3crypt-cli-src-');
    const files: Record<string, Buffer> = { 'a.txt': Buffer.from('alpha'), 'sub/b.bin': randomBytes(70_000), 'sub/deeper/c.bin': randomBytes(6 * 1024 * 1024) };
    for (const [name, bytes] of Object.entries(files)) {
      mkdirSync(join(source, name, '..'), { recursive: true });
      writeFileSync(join(source, name), bytes);
    }
    const up = await cli(['cp', source, `s3://${bucket}/tree/`, '--recursive', '--concurrency', '2', '--json']);
    expect(up.code, up.stderr).toBe(EXIT.ok);
    expect(JSON.parse(up.stdout.toString())).toMatchObject({ copied: 3, skipped: 0, failed: 0 });
    const again = await cli(['cp', source, `s3://${bucket}/tree/`, '--recursive', '--json']);
    expect(JSON.parse(again.stdout.toString())).toMatchObject({ copied: 0, skipped: 3, failed: 0 });
    const down = tempDir('s3crypt-cli-down-');
    expect((await cli(['cp', `s3://${bucket}/tree/`, down, '--recursive'])).code).toBe(EXIT.ok);
    for (const [name, bytes] of Object.entries(files)) expect(readFileSync(join(down, name)).equals(bytes), name).toBe(true);
    expect((await cli(['cp', `s3://${bucket}/tree`, `s3://${bucket}/copy/`, '--recursive'])).code).toBe(EXIT.ok);
    const copied = await cli(['cat', `s3://${bucket}/copy/sub/b.bin`]);
    expect(copied.stdout.equals(files['sub/b.bin']!)).toBe(true);
    // Single objects too, into a folder-like key.
    expect((await cli(['cp', join(source, 'a.txt'), `s3://${bucket}/single/`])).code).toBe(EXIT.ok);
    expect((await cli(['cat', `s3://${bucket}/single/a.txt`])).stdout.toString()).toBe('alpha');
  });
});

describe('rotate and migrate', () => {
  it('migrate encrypts plaintext in place; rotate re-wraps to a new key (dry run first), readable with it alone', async () => {
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'legacy/old.csv', Body: 'id,name\n1,Ada\n' }));
    expect((await cli(['put', '-', `s3://${bucket}/legacy/new.csv`], { stdin: 'id,name\n2,Grace\n' })).code).toBe(EXIT.ok);
    const migrated = await cli(['migrate', `s3://${bucket}/legacy/`, '--json']);
    expect(migrated.code, migrated.stderr).toBe(EXIT.ok);
    const summary = JSON.parse(migrated.stdout.toString().trim().split('\n').pop()!) as Record<string, unknown>;
    expect(summary).toMatchObject({ event: 'summary', rotated: 1, failed: 0 });
    expect((await stored('legacy/old.csv')).toString()).not.toContain('Ada');

    const dry = await cli(['rotate', `s3://${bucket}/legacy/`, '--to-key', `file:${keyB}`, '--dry-run']);
    expect(dry.stdout.toString()).toMatch(/would rotate 2/);
    const rotated = await cli(['rotate', `s3://${bucket}/legacy/`, '--to-key', `file:${keyB}`]);
    expect(rotated.code, rotated.stderr).toBe(EXIT.ok);
    expect(rotated.stdout.toString()).toMatch(/rotated 2/);
    const withB = await cli(['cat', `s3://${bucket}/legacy/old.csv`, '--key', `file:${keyB}`]);
    expect(withB.stdout.toString()).toBe('id,name\n1,Ada\n');
    expect((await cli(['cat', `s3://${bucket}/legacy/old.csv`])).code).toBe(EXIT.key);
    // Idempotent: a second run finds nothing to do.
    expect((await cli(['rotate', `s3://${bucket}/legacy/`, '--to-key', `file:${keyB}`])).stdout.toString()).toMatch(/rotated 0, skipped 2 \(already-rotated 2\)/);
  });
});

describe('rotate selections', () => {
  it('--manifest takes only the listed objects; --from-key only those under that key; --tag only tagged ones', async () => {
    const keyC = join(dir, 'c.key');
    expect((await cli(['keygen', keyC])).code).toBe(EXIT.ok);
    for (const name of ['one', 'two', 'three']) expect((await cli(['put', '-', `s3://${bucket}/selected/${name}`], { stdin: name })).code).toBe(EXIT.ok);
    const manifest = join(dir, 'manifest.csv');
    writeFileSync(manifest, `${bucket},selected/one\n`);
    const byManifest = await cli(['rotate', `s3://${bucket}`, '--to-key', `file:${keyC}`, '--manifest', manifest, '--key', `file:${keyA}`, '--json']);
    expect(byManifest.code, byManifest.stderr).toBe(EXIT.ok);
    expect(JSON.parse(byManifest.stdout.toString().trim().split('\n').pop()!)).toMatchObject({ rotated: 1 });
    // Only "one" moved to C: rotating from C to B touches nothing else.
    const fromC = await cli(['rotate', `s3://${bucket}/selected/`, '--to-key', `file:${keyB}`, '--from-key', `file:${keyC}`, '--key', `file:${keyA}`, '--key', `file:${keyC}`, '--json']);
    expect(JSON.parse(fromC.stdout.toString().trim().split('\n').pop()!)).toMatchObject({ rotated: 1, skippedBy: { 'not-selected': 2 } });
    expect((await cli(['cat', `s3://${bucket}/selected/one`, '--key', `file:${keyB}`])).stdout.toString()).toBe('one');
    expect((await cli(['cat', `s3://${bucket}/selected/two`])).stdout.toString()).toBe('two');
    const tagged = await cli(['rotate', `s3://${bucket}/selected/`, '--to-key', `file:${keyB}`, '--tag', 'class=secret', '--key', `file:${keyA}`, '--key', `file:${keyB}`, '--json']);
    expect(JSON.parse(tagged.stdout.toString().trim().split('\n').pop()!)).toMatchObject({ rotated: 0 });
  });
});

describe('customer keys and the audit log', () => {
  it('--customer-key-file: the object needs that key; none or another is exit 5', async () => {
    const customer = join(dir, 'customer.key');
    const other = join(dir, 'other-customer.key');
    writeFileSync(customer, randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
    writeFileSync(other, randomBytes(32), { mode: 0o600 });
    expect((await cli(['put', '-', `s3://${bucket}/ssec/doc`, '--customer-key-file', customer], { stdin: 'per-request key' })).code).toBe(EXIT.ok);
    expect((await cli(['cat', `s3://${bucket}/ssec/doc`, '--customer-key-file', customer])).stdout.toString()).toBe('per-request key');
    const missing = await cli(['cat', `s3://${bucket}/ssec/doc`]);
    expect(missing.code).toBe(EXIT.key);
    expect(missing.stderr).toMatch(/ERR_CUSTOMER_KEY_REQUIRED/);
    const wrong = await cli(['cat', `s3://${bucket}/ssec/doc`, '--customer-key-file', other]);
    expect(wrong.code).toBe(EXIT.key);
    expect(wrong.stderr).toMatch(/ERR_CUSTOMER_KEY_MISMATCH/);
  });

  it('--audit-log records the key operations; audit verify accepts the log and names a tampered record (exit 4)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const signing = join(dir, 'audit.pem');
    const verifying = join(dir, 'audit.pub.pem');
    writeFileSync(signing, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(verifying, publicKey.export({ type: 'spki', format: 'pem' }));
    const log = join(dir, 'audit');
    const audited = ['--audit-log', log, '--audit-signing-key', signing];
    expect((await cli(['put', '-', `s3://${bucket}/audited/a`, ...audited], { stdin: 'audited' })).code).toBe(EXIT.ok);
    expect((await cli(['cat', `s3://${bucket}/audited/a`, ...audited])).stdout.toString()).toBe('audited');
    const report = await cli(['audit', 'verify', log, '--public-key', verifying, '--json']);
    expect(report.code, report.stdout.toString()).toBe(EXIT.ok);
    const parsed = JSON.parse(report.stdout.toString()) as { ok: boolean; events: number };
    expect(parsed.ok).toBe(true);
    expect(parsed.events).toBeGreaterThanOrEqual(2);
    const segment = join(log, readdirSync(log).filter((name) => name.endsWith('.jsonl')).sort()[0]!);
    const bytes = readFileSync(segment);
    const at = bytes.indexOf('audited/a');
    bytes[at] = 'A'.charCodeAt(0);
    writeFileSync(segment, bytes);
    const broken = await cli(['audit', 'verify', log, '--public-key', verifying]);
    expect(broken.code).toBe(EXIT.integrity);
    expect(broken.stdout.toString()).toMatch(/BROKEN/);
    expect(broken.stdout.toString()).toMatch(/:\d+ seq \d+: /);
  });
});

describe('KMS key specs', () => {
  let bao: OpenBao;
  let moto: { endpoint: string; server?: RunningServer };
  beforeAll(async () => {
    bao = await openBaoWithTransit();
    await bao.api('POST', 'transit/keys/cli-kek', { type: 'aes256-gcm96' });
    moto = await motoFromEnvOrStarted();
  });
  afterAll(async () => {
    await bao?.server?.stop();
    await moto?.server?.stop();
  });

  it('aws-kms:KEY-ARN through the AWS SDK chain (AWS_ENDPOINT_URL_KMS, here moto) round-trips', async () => {
    const { KeyMetadata } = await kmsClient(moto.endpoint).send(new CreateKeyCommand({ Description: 's3crypt cli test' }));
    const awsEnv = { ...env, AWS_ENDPOINT_URL_KMS: moto.endpoint, S3CRYPT_KEY: `aws-kms:${KeyMetadata!.Arn!}` };
    const put = await cli(['put', '-', `s3://${bucket}/aws/doc`], { stdin: 'from aws kms', env: awsEnv });
    expect(put.code, put.stderr).toBe(EXIT.ok);
    expect((await cli(['cat', `s3://${bucket}/aws/doc`], { env: awsEnv })).stdout.toString()).toBe('from aws kms');
    expect((await cli(['ls', `s3://${bucket}/aws/`], { env: awsEnv })).stdout.toString()).toContain(`aws-kms:${KeyMetadata!.Arn!}`);
  });

  it('vault:KEY-NAME with VAULT_ADDR and VAULT_TOKEN round-trips, and ls names the Transit key', async () => {
    const vaultEnv = { ...env, S3CRYPT_KEY: 'vault:cli-kek', VAULT_ADDR: bao.endpoint, VAULT_TOKEN: bao.rootToken };
    expect((await cli(['put', '-', `s3://${bucket}/vault/doc`], { stdin: 'from vault', env: vaultEnv })).code).toBe(EXIT.ok);
    expect((await cli(['cat', `s3://${bucket}/vault/doc`], { env: vaultEnv })).stdout.toString()).toBe('from vault');
    expect((await cli(['ls', `s3://${bucket}/vault/`], { env: vaultEnv })).stdout.toString()).toMatch(/vault-transit:transit\/cli-kek/);
  });
});

afterAll(async () => {
  // No multipart upload of any command was left behind.
  const uploads = await plain.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  expect(uploads.Uploads ?? []).toEqual([]);
});
