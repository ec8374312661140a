// Bun and Deno load @s3crypt/client's built ESM entry and interoperate with Node through MinIO.
// The runtimes come from scripts/install-node.sh (bun, deno); scripts/test.sh passes their paths in
// S3CRYPT_BUN / S3CRYPT_DENO. Without them the tests skip and say why. Needs `npm run build`.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { EncryptingS3Client, RawAesKeyring } from '@s3crypt/client';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { getBody } from './harness/clients.js';
import { freshBucket, s3Client } from './harness/minio.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const smokeScript = fileURLToPath(new URL('./runtimes/esm-smoke.ts', import.meta.url));
// The ESM entry the package's exports map gives `import` (the dual build puts it in dist/esm).
const clientEntry = fileURLToPath(new URL('../packages/client/dist/esm/index.js', import.meta.url));

const runtimes = [
  { name: 'Bun', variable: 'S3CRYPT_BUN', install: 'bun', args: ['run', smokeScript] },
  // --no-lock: Deno would otherwise write deno.lock into the repo. osRelease: the AWS SDK's user agent.
  {
    name: 'Deno',
    variable: 'S3CRYPT_DENO',
    install: 'deno',
    args: ['run', '--no-lock', '--allow-env', '--allow-read', '--allow-net=127.0.0.1', '--allow-sys=osRelease', smokeScript],
  },
] as const;

describe('the ESM entry on other runtimes', () => {
  const plain = s3Client(inject('s3'));
  const keyName = 'runtime-smoke';
  const masterKey = randomBytes(32);
  const nodeClient = new EncryptingS3Client({ client: plain, keyring: new RawAesKeyring({ keyName, masterKey: Buffer.from(masterKey) }) });
  let bucket: string;

  beforeAll(async () => {
    if (!existsSync(clientEntry)) throw new Error(`${clientEntry} is missing: run npm run build first`);
    bucket = await freshBucket(plain, 'runtimes');
  });

  for (const runtime of runtimes) {
    it(`${runtime.name} decrypts an object Node wrote and encrypts one Node decrypts`, async (context) => {
      const binary = process.env[runtime.variable];
      if (!binary) return context.skip(`${runtime.variable} is not set (scripts/test.sh sets it from scripts/install-node.sh ${runtime.install})`);
      const fromNode = `written by Node ${process.version} for ${runtime.name}`;
      const fromRuntime = `written by ${runtime.name} for Node, ${randomBytes(8).toString('hex')}`;
      const readKey = `${runtime.install}/from-node`;
      const writeKey = `${runtime.install}/from-runtime`;
      await nodeClient.send(new PutObjectCommand({ Bucket: bucket, Key: readKey, Body: fromNode }));

      const endpoint = inject('s3');
      const { stdout } = await run(binary, [...runtime.args], {
        cwd: repoRoot,
        timeout: 60_000,
        env: {
          ...process.env,
          S3_ENDPOINT: endpoint.endpoint,
          S3_ACCESS_KEY_ID: endpoint.accessKeyId,
          S3_SECRET_ACCESS_KEY: endpoint.secretAccessKey,
          SMOKE_BUCKET: bucket,
          SMOKE_KEY_NAME: keyName,
          SMOKE_MASTER_KEY: masterKey.toString('hex'),
          SMOKE_READ_KEY: readKey,
          SMOKE_WRITE_KEY: writeKey,
          SMOKE_WRITE_BODY: fromRuntime,
        },
      });

      expect(JSON.parse(stdout)).toEqual({ read: fromNode });
      expect((await getBody(nodeClient, bucket, writeKey)).toString()).toBe(fromRuntime);
      const stored = await getBody(plain, bucket, writeKey);
      expect(stored.includes(Buffer.from(fromRuntime))).toBe(false);
      expect(stored.length).toBeGreaterThan(fromRuntime.length);
    });
  }
});
