// examples/etl-shell.sh run with bash, the `s3crypt` binary on its PATH (node_modules/.bin, as after
// the README's setup), against the test MinIO: the happy path and the exit codes it acts on.
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { cliEnvironment, runCli } from './harness/cli.js';
import { freshBucket, s3Client } from './harness/minio.js';
import { tempDir } from './harness/process.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const SCRIPT = join(REPO, 'examples', 'etl-shell.sh');

let plain: S3Client;
let bucket: string;
let env: NodeJS.ProcessEnv;

const CSV = 'id,customer,email,cents,status\n1,Ada,ada@example.com,1250,paid\n2,Grace,grace@example.com,999,open\n3,Edsger,ed@example.com,100000,paid\n';

function etl(source: string, target: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', [SCRIPT, source, target], { env }, (error, _stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stderr }));
  });
}

beforeAll(async () => {
  const s3 = inject('s3');
  plain = s3Client(s3);
  bucket = await freshBucket(plain, 'etl-shell');
  const key = join(tempDir('s3crypt-etl-shell-'), 'master.key');
  // The binary as a user runs it: node_modules/.bin/s3crypt, with this Node first on the PATH.
  env = cliEnvironment(s3, { S3CRYPT_KEY: `file:${key}`, PATH: [join(REPO, 'node_modules', '.bin'), dirname(process.execPath), process.env.PATH].join(':') });
  expect((await runCli(['keygen', key], { env })).code).toBe(0);
  expect((await runCli(['put', '-', `s3://${bucket}/raw/orders.csv`], { env, stdin: CSV })).code).toBe(0);
});

describe('examples/etl-shell.sh', () => {
  it('streams an encrypted CSV through awk into a new encrypted object', async () => {
    const result = await etl(`s3://${bucket}/raw/orders.csv`, `s3://${bucket}/curated/paid.csv`);
    expect(result.code, result.stderr).toBe(0);
    const out = await runCli(['cat', `s3://${bucket}/curated/paid.csv`], { env });
    expect(out.stdout.toString()).toBe('id,customer,amount\n1,Ada,12.50\n3,Edsger,1000.00\n');
    const stored = await plain.send(new GetObjectCommand({ Bucket: bucket, Key: 'curated/paid.csv' }));
    expect(await stored.Body!.transformToString()).not.toContain('Edsger');
  });

  it('a tampered source is exit 4 and publishes nothing; a missing one is a no-op', async () => {
    // Tampered in place (an envelope moved to another key would fail as a key failure, exit 5).
    expect((await runCli(['put', '-', `s3://${bucket}/raw/tampered.csv`], { env, stdin: CSV })).code).toBe(0);
    const original = await plain.send(new GetObjectCommand({ Bucket: bucket, Key: 'raw/tampered.csv' }));
    const bytes = Buffer.from(await original.Body!.transformToByteArray());
    bytes[10]! ^= 0x01;
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'raw/tampered.csv', Body: bytes, Metadata: original.Metadata }));
    const tampered = await etl(`s3://${bucket}/raw/tampered.csv`, `s3://${bucket}/curated/from-tampered.csv`);
    expect(tampered.code).toBe(4);
    expect(tampered.stderr).toMatch(/quarantine/);
    await expect(plain.send(new GetObjectCommand({ Bucket: bucket, Key: 'curated/from-tampered.csv' }))).rejects.toMatchObject({ name: 'NoSuchKey' });
    const missing = await etl(`s3://${bucket}/raw/none.csv`, `s3://${bucket}/curated/none.csv`);
    expect(missing.code).toBe(0);
    expect(missing.stderr).toMatch(/does not exist/);
  });
});
