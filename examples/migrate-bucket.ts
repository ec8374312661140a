// Migrating a bucket to s3crypt, then rotating its key, without a maintenance window:
//   1. objects written before s3crypt (plaintext) are encrypted in place under the current key
//      (`rotateKeys` with `migratePlaintext: true`);
//   2. later, every object is rotated to a new key (`rotateKeys` with `to`): each data key is
//      re-wrapped by a metadata-only copy, the data bytes are not rewritten.
// Both runs are idempotent (a rerun skips what is done) and never overwrite a concurrent write.
// Readers keep working throughout: the application's reader below accepts both keys, and plaintext
// until the migration is over. See docs/ROTATION.md for resuming, dry runs and selection.
//
// Run: S3_BUCKET=legacy-bucket S3CRYPT_MASTER_KEY=<base64> S3CRYPT_NEXT_MASTER_KEY=<base64> node --import tsx examples/migrate-bucket.ts
// (S3_ENDPOINT for MinIO or another S3-compatible store; credentials from the usual AWS variables.)
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { EncryptingS3Client, MultiKeyring, RawAesKeyring, rotateKeys, s3cryptInfo, type Keyring, type RotationSummary } from '@s3crypt/client';

export interface MigrationKeys {
  /** The key objects are encrypted under by the migration (and that the application writes with today). */
  readonly current: Keyring;
  /** The key they are rotated to afterwards. */
  readonly next: Keyring;
}

export interface MigrationResult {
  readonly migration: RotationSummary;
  readonly rotation: RotationSummary;
  /** Objects read before, between and after the two runs (up to 10), and whether every read matched the first. */
  readonly sampled: number;
  readonly readsMatched: boolean;
}

export async function migrateBucket(s3: S3Client, bucket: string, keys: MigrationKeys, print: (line: string) => void = console.log): Promise<MigrationResult> {
  // The application's reader during the whole operation: unwraps with either key, and reads the
  // not-yet-migrated plaintext objects of this bucket (as plaintext: `s3cryptInfo(out).encrypted` is false).
  const reader = new EncryptingS3Client({ client: s3, keyring: new MultiKeyring({ generator: keys.next, children: [keys.current] }), allowPlaintextReads: [{ bucket }] });
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 10 }));
  const sample = (listed.Contents ?? []).map((object) => object.Key!);
  const before = await digests(reader, bucket, sample);
  print(`sample of ${sample.length}: ${sample.filter((key) => !before.get(key)!.encrypted).length} plaintext objects`);

  // 1. Plaintext objects are encrypted under the current key. Objects already under it are skipped.
  const migration = await rotateKeys(new EncryptingS3Client({ client: s3, keyring: keys.current }), { bucket, to: keys.current, migratePlaintext: true, concurrency: 8 });
  print(`migration: ${summaryLine(migration)}`);
  const afterMigration = await digests(reader, bucket, sample);

  // 2. Rotation to the next key. The rotating client must unwrap the current keys (the MultiKeyring);
  // `to` wraps them from now on. Deploy writers with the next key first, so nothing new lands under
  // the old one while the rotation runs; objects they write meanwhile are skipped as already rotated.
  const rotation = await rotateKeys(new EncryptingS3Client({ client: s3, keyring: new MultiKeyring({ generator: keys.next, children: [keys.current] }) }), {
    bucket,
    to: keys.next,
    concurrency: 8,
    onProgress: ({ done, resumeAfter }) => {
      if (done % 1000 === 0) print(`  ${done} objects done; a rerun may start after ${resumeAfter ?? '(start)'}`);
    },
  });
  print(`rotation: ${summaryLine(rotation)}`);
  for (const failure of [...migration.failures, ...rotation.failures]) print(`  failed: ${failure.key}: ${failure.reason.code}${failure.reason.retryable ? ' (retryable: run again)' : ''}`);

  // Once both runs report no failures, the old key and plaintext reads can be retired: a reader with
  // only the next key, and no allowPlaintextReads, reads everything.
  const strictReader = new EncryptingS3Client({ client: s3, keyring: keys.next });
  const afterRotation = await digests(strictReader, bucket, sample);
  const readsMatched = sample.every((key) => [afterMigration, afterRotation].every((seen) => seen.get(key)!.sha256 === before.get(key)!.sha256 && seen.get(key)!.encrypted));
  print(`sampled objects read the same before, between and after: ${readsMatched ? 'yes' : 'NO'}`);
  return { migration, rotation, sampled: sample.length, readsMatched };
}

function summaryLine(summary: RotationSummary): string {
  const skipped = Object.entries(summary.skippedBy).map(([reason, count]) => `${count} ${reason}`).join(', ');
  return `${summary.rotated} rotated, ${summary.skipped} skipped${skipped ? ` (${skipped})` : ''}, ${summary.failed} failed`;
}

async function digests(reader: S3Client, bucket: string, keys: readonly string[]): Promise<Map<string, { sha256: string; encrypted: boolean }>> {
  const seen = new Map<string, { sha256: string; encrypted: boolean }>();
  for (const key of keys) {
    const out = await reader.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const sha256 = createHash('sha256').update(await out.Body!.transformToByteArray()).digest('hex');
    seen.set(key, { sha256, encrypted: s3cryptInfo(out)?.encrypted === true });
  }
  return seen;
}

async function main(): Promise<void> {
  const bucket = process.env.S3_BUCKET;
  const current = Buffer.from(process.env.S3CRYPT_MASTER_KEY ?? '', 'base64');
  const next = Buffer.from(process.env.S3CRYPT_NEXT_MASTER_KEY ?? '', 'base64');
  if (!bucket || current.length !== 32 || next.length !== 32) throw new Error('set S3_BUCKET, S3CRYPT_MASTER_KEY and S3CRYPT_NEXT_MASTER_KEY (32 bytes each, base64)');
  const s3 = new S3Client({ region: process.env.AWS_REGION ?? 'us-east-1', ...(process.env.S3_ENDPOINT ? { endpoint: process.env.S3_ENDPOINT, forcePathStyle: true } : {}) });
  // Key names are recorded in each object: a new key gets a new name. KMS keyrings work the same way.
  const keys = { current: new RawAesKeyring({ keyName: 'app-key-2025', masterKey: current }), next: new RawAesKeyring({ keyName: 'app-key-2026', masterKey: next }) };
  const { migration, rotation } = await migrateBucket(s3, bucket, keys);
  if (migration.failed + rotation.failed > 0) process.exitCode = 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
