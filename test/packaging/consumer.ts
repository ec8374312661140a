// A TypeScript app compiled to CommonJS (module NodeNext in a "type": "commonjs" project) against the
// packed packages' types; test/packaging.test.ts compiles it with tsc in a fresh project and runs it.
// (In this repository it is also type-checked as ESM, by tsconfig.test.json.)
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { EncryptingS3Client, S3CryptError, type S3CryptErrorCode } from '@s3crypt/client';
import { VaultTransitKeyring } from '@s3crypt/kms-vault';

// The types are real, not `any`: tsc fails on an unused @ts-expect-error.
// @ts-expect-error keyName is required
void (() => new VaultTransitKeyring({ endpoint: 'http://127.0.0.1:1' }));

async function main(): Promise<void> {
  const env = process.env;
  const s3 = new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: env.S3_ACCESS_KEY_ID ?? '', secretAccessKey: env.S3_SECRET_ACCESS_KEY ?? '' },
  });
  const keyring = (endpoint: string | undefined) => new VaultTransitKeyring({ keyName: env.VAULT_KEY_NAME ?? '', endpoint, token: env.VAULT_TOKEN });
  const client = new EncryptingS3Client({ client: s3, keyring: keyring(env.VAULT_ADDR) });
  const Bucket = env.S3_BUCKET;
  const Key = 'ts/object.txt';
  const text = `hello from TypeScript ${Date.now()}`;
  await client.send(new PutObjectCommand({ Bucket, Key, Body: text }));
  const stored = await (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body?.transformToString();
  const readBack = await (await client.send(new GetObjectCommand({ Bucket, Key }))).Body?.transformToString();
  const unreachable = new EncryptingS3Client({ client: s3, keyring: keyring(env.UNREACHABLE_VAULT_ADDR) });
  const kmsError: unknown = await unreachable.send(new PutObjectCommand({ Bucket, Key: 'ts/never', Body: 'x' })).then(
    () => undefined,
    (error: unknown) => error,
  );
  const kmsErrorCode: S3CryptErrorCode | undefined = kmsError instanceof S3CryptError ? kmsError.code : undefined;
  console.log(
    JSON.stringify({
      resolved: require.resolve('@s3crypt/client'),
      roundTrip: readBack === text,
      storedHasPlaintext: stored?.includes(text),
      kmsErrorIsS3CryptError: kmsError instanceof S3CryptError,
      kmsErrorCode,
      keyrings: [typeof VaultTransitKeyring],
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
