// The key-handling examples (examples/migrate-bucket.ts, error-handling.ts, commonjs.cjs), run
// against the test MinIO so they cannot go stale.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { EncryptingS3Client, RawAesKeyring, s3cryptInfo } from '@s3crypt/client';
import { classifyFailure, runErrorTour } from '../examples/error-handling.js';
import { migrateBucket } from '../examples/migrate-bucket.js';
import { getBody } from './harness/clients.js';
import { freshBucket, s3Client } from './harness/minio.js';
import { freePort } from './harness/process.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('..', import.meta.url));

let s3: S3Client;
beforeAll(() => {
  s3 = s3Client(inject('s3'));
});

describe('examples/migrate-bucket.ts', () => {
  it('encrypts the plaintext objects in place, then rotates everything to the next key; reads match throughout', async () => {
    const bucket = await freshBucket(s3, 'ex-migrate');
    const current = new RawAesKeyring({ keyName: 'app-key-2025', masterKey: randomBytes(32) });
    const next = new RawAesKeyring({ keyName: 'app-key-2026', masterKey: randomBytes(32) });
    const contents = new Map<string, string>();
    for (let i = 0; i < 6; i++) {
      contents.set(`legacy/${i}.txt`, `legacy record ${i} `.repeat(50 + i));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `legacy/${i}.txt`, Body: contents.get(`legacy/${i}.txt`), ContentType: 'text/plain' }));
    }
    // Written by the application after it adopted s3crypt, under the current key.
    for (let i = 0; i < 2; i++) {
      contents.set(`new/${i}.txt`, `new record ${i}`);
      await new EncryptingS3Client({ client: s3, keyring: current }).send(new PutObjectCommand({ Bucket: bucket, Key: `new/${i}.txt`, Body: contents.get(`new/${i}.txt`) }));
    }
    const lines: string[] = [];
    const result = await migrateBucket(s3, bucket, { current, next }, (line) => lines.push(line));

    expect(result.migration).toMatchObject({ rotated: 6, skipped: 2, skippedBy: { 'already-rotated': 2 }, failed: 0 });
    expect(result.rotation).toMatchObject({ rotated: 8, skipped: 0, failed: 0 });
    expect(result).toMatchObject({ sampled: 8, readsMatched: true });
    expect(lines).toContain('migration: 6 rotated, 2 skipped (2 already-rotated), 0 failed');
    expect(lines).toContain('rotation: 8 rotated, 0 skipped, 0 failed');
    // Afterwards: only ciphertext in the store, every object readable with the next key alone, the
    // old key refused by a reader that only trusts it.
    const nextOnly = new EncryptingS3Client({ client: s3, keyring: next });
    const currentOnly = new EncryptingS3Client({ client: s3, keyring: current });
    for (const [key, text] of contents) {
      expect((await getBody(s3, bucket, key)).includes(text.slice(0, 12))).toBe(false);
      expect((await getBody(nextOnly, bucket, key)).toString()).toBe(text);
      await expect(getBody(currentOnly, bucket, key)).rejects.toMatchObject({ code: 'ERR_KEY_NOT_ALLOWED' });
    }
    const head = await nextOnly.send(new HeadObjectCommand({ Bucket: bucket, Key: 'legacy/0.txt' }));
    expect(head.ContentType).toBe('text/plain');
    expect(s3cryptInfo(head)).toMatchObject({ encrypted: true, formatVersion: 2 });
  });
});

describe('examples/error-handling.ts', () => {
  it('provokes each failure kind and classifies it', async () => {
    const bucket = await freshBucket(s3, 'ex-errors');
    const lines: string[] = [];
    const results = await runErrorTour(s3, { bucket, unreachableKmsEndpoint: `http://127.0.0.1:${await freePort()}` }, (line) => lines.push(line));
    expect(results).toEqual({
      tampered: { kind: 'tampered', code: 'ERR_DECRYPTION_FAILED', retryable: false, httpStatus: 502 },
      'wrong key': { kind: 'key-refused', code: 'ERR_KEY_NOT_ALLOWED', retryable: false, httpStatus: 500 },
      'wrong key, discovery': { kind: 'key-refused', code: 'ERR_NO_MATCHING_KEY', retryable: false, httpStatus: 500 },
      'plaintext object': { kind: 'not-encrypted', code: 'ERR_NOT_ENCRYPTED', retryable: false, httpStatus: 500 },
      'missing object': { kind: 'not-found', code: 'NoSuchKey', retryable: false, httpStatus: 404 },
      'KMS unavailable': { kind: 'kms-unavailable', code: 'ERR_KMS_UNAVAILABLE', retryable: true, httpStatus: 503 },
      'changed during rotation': { kind: 'changed', code: 'ERR_OBJECT_CHANGED', retryable: true, httpStatus: 409 },
    });
    expect(lines).toHaveLength(7);
    expect(lines[0]).toBe('tampered: ERR_DECRYPTION_FAILED → tampered, HTTP 502');
    // The failed KMS write stored nothing; the rotation left the concurrent writer's object alone.
    await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'error-tour/kms-down' }))).rejects.toMatchObject({ name: 'NotFound' });
    expect(classifyFailure(new TypeError('not ours'))).toEqual({ kind: 'other', code: 'unknown', retryable: false, httpStatus: 500 });
  });
});

describe('examples/commonjs.cjs', () => {
  it('runs under plain node with require(), loading the CommonJS build, against MinIO', async () => {
    // The built packages (scripts/build.sh, run before the tests in CI); built here if missing.
    if (!existsSync(`${REPO}/packages/client/dist/cjs/index.js`)) await run('bash', [`${REPO}/scripts/build.sh`], { cwd: REPO });
    const endpoint = inject('s3');
    const bucket = await freshBucket(s3, 'ex-cjs');
    const masterKey = randomBytes(32);
    const { stdout } = await run(process.execPath, ['examples/commonjs.cjs'], {
      cwd: REPO,
      env: {
        PATH: process.env.PATH,
        S3_ENDPOINT: endpoint.endpoint,
        AWS_ACCESS_KEY_ID: endpoint.accessKeyId,
        AWS_SECRET_ACCESS_KEY: endpoint.secretAccessKey,
        S3_BUCKET: bucket,
        S3CRYPT_MASTER_KEY: masterKey.toString('base64'),
      },
    });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^@s3crypt\/client loaded from .*\/packages\/client\/dist\/cjs\/index\.js$/);
    expect(lines.slice(1)).toEqual(['read back: hello from CommonJS', 'bytes 0-4: hello', 'another key: ERR_KEY_NOT_ALLOWED']);
    // What it wrote is an s3crypt object this process reads with the same key.
    const reader = new EncryptingS3Client({ client: s3, keyring: new RawAesKeyring({ keyName: 'app-key', masterKey }) });
    expect((await getBody(reader, bucket, 'commonjs/hello.txt')).toString()).toBe('hello from CommonJS');
    expect((await getBody(s3, bucket, 'commonjs/hello.txt')).includes('hello')).toBe(false);
  });
});
