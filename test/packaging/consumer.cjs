// A plain CommonJS app using the packed packages (run by test/packaging.test.ts in a fresh project).
/* global require, process, console */
/* eslint-disable @typescript-eslint/no-require-imports */
const { S3Client, PutObjectCommand, GetObjectCommand } = require('@aws-sdk/client-s3');
const { EncryptingS3Client, S3CryptError } = require('@s3crypt/client');
const { VaultTransitKeyring } = require('@s3crypt/kms-vault');

const KEYRINGS = {
  '@s3crypt/kms-aws': 'AwsKmsKeyring',
  '@s3crypt/kms-azure': 'AzureKeyVaultKeyring',
  '@s3crypt/kms-gcp': 'GcpKmsKeyring',
  '@s3crypt/kms-vault': 'VaultTransitKeyring',
};

async function main() {
  const env = process.env;
  const s3 = new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
  });
  const keyring = (endpoint) => new VaultTransitKeyring({ keyName: env.VAULT_KEY_NAME, endpoint, token: env.VAULT_TOKEN });
  const client = new EncryptingS3Client({ client: s3, keyring: keyring(env.VAULT_ADDR) });
  const Bucket = env.S3_BUCKET;
  const Key = 'cjs/object.txt';
  const text = `hello from CommonJS ${Date.now()}`;
  await client.send(new PutObjectCommand({ Bucket, Key, Body: text }));
  const stored = await (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body.transformToString();
  const readBack = await (await client.send(new GetObjectCommand({ Bucket, Key }))).Body.transformToString();
  const unreachable = new EncryptingS3Client({ client: s3, keyring: keyring(env.UNREACHABLE_VAULT_ADDR) });
  const kmsError = await unreachable.send(new PutObjectCommand({ Bucket, Key: 'cjs/never', Body: 'x' })).then(() => undefined, (error) => error);
  console.log(
    JSON.stringify({
      resolved: require.resolve('@s3crypt/client'),
      roundTrip: readBack === text,
      storedHasPlaintext: stored.includes(text),
      kmsErrorIsS3CryptError: kmsError instanceof S3CryptError,
      kmsErrorCode: kmsError && kmsError.code,
      keyrings: Object.entries(KEYRINGS).map(([name, exported]) => typeof require(name)[exported]),
    }),
  );
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
