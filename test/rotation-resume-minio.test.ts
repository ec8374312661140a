// A rotation killed midway (SIGKILL, in a process of its own: test/harness/rotation-child.ts) and
// resumed from its last checkpoint, in a versioned bucket on the real MinIO: every object ends up
// under the new key, none is lost, and none is rotated twice (each key has exactly two versions: the
// original and one rotation).
import { ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EncryptingS3Client, MultiKeyring, RawAesKeyring, rotateKeys } from '@s3crypt/client';
import { describe, expect, inject, it } from 'vitest';
import { getBody } from './harness/clients.js';
import { freshBucket, s3Client } from './harness/minio.js';
import { tempDir } from './harness/process.js';

const OBJECTS = 40;

describe('rotateKeys killed and resumed', () => {
  it('loses no object and rotates none twice', { timeout: 180_000 }, async () => {
    const endpoint = inject('s3');
    const plain = s3Client(endpoint);
    const bucket = await freshBucket(plain, 'rotate-resume');
    await plain.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    const oldKeyring = new RawAesKeyring({ keyName: 'old', masterKey: oldKey });
    const newKeyring = new RawAesKeyring({ keyName: 'new', masterKey: newKey });
    const writer = new EncryptingS3Client({ client: plain, keyring: oldKeyring });
    const keys = Array.from({ length: OBJECTS }, (_, i) => `obj-${String(i).padStart(3, '0')}`);
    for (const key of keys) await writer.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `body of ${key}` }));

    const checkpoint = join(tempDir('rotation-resume'), 'checkpoint');
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'harness', 'rotation-child.ts')], {
      env: { ...process.env, ROTATION_S3: JSON.stringify(endpoint), ROTATION_BUCKET: bucket, ROTATION_OLD_KEY: oldKey.toString('hex'), ROTATION_NEW_KEY: newKey.toString('hex'), ROTATION_CHECKPOINT: checkpoint },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    let output = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if ((output.match(/^done /gm) ?? []).length >= 10) resolve();
        if (output.includes('finished')) reject(new Error('the rotation finished before it could be killed'));
      });
      child.on('exit', () => reject(new Error(`the rotation process exited on its own: ${output}`)));
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(existsSync(checkpoint)).toBe(true);
    const resumeAfter = readFileSync(checkpoint, 'utf8');
    expect(keys).toContain(resumeAfter);

    const client = new EncryptingS3Client({ client: plain, keyring: new MultiKeyring({ generator: newKeyring, children: [oldKeyring] }) });
    const summary = await rotateKeys(client, { bucket, to: newKeyring, startAfter: resumeAfter });
    expect(summary.failed).toBe(0);
    // Objects the killed run finished after its last checkpoint are skipped, not rotated again.
    expect(summary.rotated + (summary.skippedBy['already-rotated'] ?? 0)).toBe(keys.filter((key) => key > resumeAfter).length);
    expect(summary.rotated).toBeLessThan(OBJECTS - 10 + 1);

    const onlyNew = new EncryptingS3Client({ client: plain, keyring: newKeyring });
    const versions = await plain.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    for (const key of keys) {
      expect((await getBody(onlyNew, bucket, key)).toString()).toBe(`body of ${key}`);
      expect(versions.Versions!.filter((v) => v.Key === key)).toHaveLength(2);
    }
  });
});
