import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { describe, inject, expect, it } from 'vitest';
import { EncryptingS3Client, RawAesKeyring } from '@s3crypt/client';
import { runDemo } from '../examples/demo.js';
import { freshBucket, s3Client } from './harness/minio.js';
import { tempDir } from './harness/process.js';

it('the README demo encrypts, stores only ciphertext, and round-trips', async () => {
  const lines: string[] = [];
  const result = await runDemo(s3Client(inject('s3')), (line) => lines.push(line));
  expect(result).toMatchObject({ markerFoundInStore: false, roundTripOk: true });
  expect(result.storedBytes).toBeGreaterThan(result.bytes);
  expect(lines.join('\n')).toMatch(/matches/);
});

it('the key-trust example signs, pins, binds a context and detects a rollback by identity', async () => {
  const { runKeyTrust } = await import('../examples/key-trust.js');
  const result = await runKeyTrust(s3Client(inject('s3')));
  expect(result.readBack).toBe('{"total": 120}');
  expect(result.objectId).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(result.rollbackRefusedWith).toBe('ERR_OBJECT_ID_MISMATCH');
  expect(result.missingContextRefusedWith).toMatch(/^ERR_(KEY_UNWRAP_FAILED|HEADER_AUTH_FAILED)$/);
});

describe('the examples run directly, configured by environment variables', () => {
  const REPO = fileURLToPath(new URL('..', import.meta.url));
  const runExample = async (file: string, args: readonly string[], env: Record<string, string>) => {
    const s3 = inject('s3');
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', file, ...args], {
      cwd: REPO,
      env: { PATH: process.env.PATH, S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, NODE_NO_WARNINGS: '1', ...env },
    });
    return stdout.trim().split('\n');
  };

  it('upload-progress.ts uploads a file, then etl-csv.ts transforms it, with a key from S3CRYPT_MASTER_KEY', async () => {
    const s3 = s3Client(inject('s3'));
    const bucket = await freshBucket(s3, 'ex-main');
    const masterKey = randomBytes(32);
    const file = join(tempDir('examples'), 'orders.csv');
    const csv = 'order_id,customer_email,country,amount_cents,status\no-1,a@example.com,de,1250,paid\no-2,b@example.com,fr,990,refunded\n';
    writeFileSync(file, csv);
    const env = { S3_BUCKET: bucket, S3CRYPT_MASTER_KEY: masterKey.toString('base64') };

    expect(await runExample('examples/upload-progress.ts', [file], env)).toEqual([`orders.csv: part 1 stored, ${csv.length} of ${csv.length} bytes (100%)`]);
    expect(await runExample('examples/etl-csv.ts', ['orders.csv', 'paid.csv'], env)).toEqual([`2 rows read, 1 written to s3://${bucket}/paid.csv`]);
    const client = new EncryptingS3Client({ client: s3, keyring: new RawAesKeyring({ keyName: 'app-key', masterKey }) });
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'paid.csv' }));
    expect(await out.Body!.transformToString()).toBe('order_id,country,amount\no-1,de,12.50\n');
  });

  it('error-handling.ts prints one classified line per failure kind', async () => {
    const bucket = await freshBucket(s3Client(inject('s3')), 'ex-main-errors');
    const lines = await runExample('examples/error-handling.ts', [], { S3_BUCKET: bucket });
    expect(lines.map((line) => line.split(':')[0])).toEqual(['tampered', 'wrong key', 'wrong key, discovery', 'plaintext object', 'missing object', 'KMS unavailable', 'changed during rotation']);
  });
});
