// A rotation run in a process of its own, for the test that kills it midway and resumes
// (test/rotation-resume-minio.test.ts). Run with `node --import tsx`; configured by environment:
// ROTATION_S3 (the S3Endpoint as JSON), ROTATION_BUCKET, ROTATION_OLD_KEY / ROTATION_NEW_KEY (hex),
// ROTATION_CHECKPOINT (a file that receives every progress event's resumeAfter).
// Each wrap under the new key takes a little while, so the run is still going when it is killed.
import { writeFileSync } from 'node:fs';
import { EncryptingS3Client, MultiKeyring, RawAesKeyring, rotateKeys, type Keyring } from '../../packages/client/src/index.js';
import { s3Client } from './minio.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const oldKeyring = new RawAesKeyring({ keyName: 'old', masterKey: Buffer.from(env('ROTATION_OLD_KEY'), 'hex') });
const newKeyring = new RawAesKeyring({ keyName: 'new', masterKey: Buffer.from(env('ROTATION_NEW_KEY'), 'hex') });
const slowNew: Keyring = {
  kekMatchers: () => newKeyring.kekMatchers(),
  onDecrypt: (request) => newKeyring.onDecrypt(request),
  onEncrypt: async (request) => {
    await new Promise((resolve) => setTimeout(resolve, 40));
    return newKeyring.onEncrypt(request);
  },
};
const client = new EncryptingS3Client({ client: s3Client(JSON.parse(env('ROTATION_S3'))), keyring: new MultiKeyring({ generator: newKeyring, children: [oldKeyring] }) });
await rotateKeys(client, {
  bucket: env('ROTATION_BUCKET'),
  to: slowNew,
  concurrency: 3,
  onProgress: ({ done, resumeAfter }) => {
    if (resumeAfter) writeFileSync(env('ROTATION_CHECKPOINT'), resumeAfter);
    process.stdout.write(`done ${done}\n`);
  },
});
process.stdout.write('finished\n');
