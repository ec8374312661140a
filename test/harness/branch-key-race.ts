// One of two processes racing to create and rotate the same branch key (test/hierarchical-keyring.test.ts),
// run as `node --import tsx` with TSX_TSCONFIG_PATH=test/harness/tsconfig.sources.json.
// Protocol on stdin/stdout, one JSON line each: prints {ready}, waits for "go", creates the branch key
// and rotates it ROTATIONS times, prints {done, created, versions: {version: sha256 of the encrypted
// branch key it stored}}; waits for "encrypt", wraps a data key with a fresh keyring and prints the
// key id it used; exits on "exit".
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { RawAesKeyring, type EncryptRequest, type Keyring } from '@s3crypt/client';
import { BranchKeyStore, HierarchicalKeyring } from '@s3crypt/hierarchical-keyring';
import { s3Client, type S3Endpoint } from './minio.js';

const env = (name: string) => process.env[name] ?? '';
const endpoint = JSON.parse(env('RACE_S3')) as S3Endpoint;
const branchKeyId = env('RACE_BRANCH_KEY');
const rotations = Number(env('RACE_ROTATIONS'));
const inner = new RawAesKeyring({ keyName: 'race-protector', masterKey: Buffer.from(env('RACE_MASTER_KEY'), 'hex') });
/** What this process wrapped for each version it tried to create, lost races included. */
const wrappedFor = new Map<string, string>();
const recording: Keyring = {
  onEncrypt: async (request: EncryptRequest) => {
    const result = await inner.onEncrypt(request);
    wrappedFor.set(request.context['s3crypt:branch-key-version']!, createHash('sha256').update(result.encryptedDataKeys[0]!.ciphertext).digest('hex'));
    return result;
  },
  onDecrypt: (request) => inner.onDecrypt(request),
};
const store = new BranchKeyStore({ client: s3Client(endpoint), bucket: env('RACE_BUCKET'), name: 'race-store', protector: recording });
const send = (message: unknown) => process.stdout.write(`${JSON.stringify(message)}\n`);

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const next = async () => ((await lines.next()).value as string | undefined)?.trim();
send({ ready: process.pid });
if ((await next()) !== 'go') process.exit(2);
const { created } = await store.createBranchKey(branchKeyId);
const versions: Record<number, string> = {};
if (created) versions[1] = wrappedFor.get('1')!;
for (let i = 0; i < rotations; i++) {
  const { version } = await store.rotateBranchKey(branchKeyId);
  versions[version] = wrappedFor.get(String(version))!;
}
send({ done: true, created, versions });
if ((await next()) !== 'encrypt') process.exit(2);
const keyring = new HierarchicalKeyring({ keyStore: store, branchKeyId, cacheTtlMs: 60_000 });
const { encryptedDataKeys } = await keyring.onEncrypt({ context: { 's3crypt:bucket': 'b', 's3crypt:key': `race-${process.pid}` } });
send({ keyId: encryptedDataKeys[0]!.keyId });
await next();
process.exit(0);
