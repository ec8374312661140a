// A plain ESM app using the packed packages (run by test/packaging.test.ts in a fresh project).
/* global process, console */
import { S3Client, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { EncryptingS3Client, S3CryptError } from '@s3crypt/client';
import { VaultTransitKeyring } from '@s3crypt/kms-vault';
import { AwsKmsKeyring } from '@s3crypt/kms-aws';
import { AzureKeyVaultKeyring } from '@s3crypt/kms-azure';
import { GcpKmsKeyring } from '@s3crypt/kms-gcp';

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
const Key = 'esm/object.txt';
const text = `hello from ESM ${Date.now()}`;
await client.send(new PutObjectCommand({ Bucket, Key, Body: text }));
const stored = await (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body.transformToString();
const readBack = await (await client.send(new GetObjectCommand({ Bucket, Key }))).Body.transformToString();
const unreachable = new EncryptingS3Client({ client: s3, keyring: keyring(env.UNREACHABLE_VAULT_ADDR) });
const kmsError = await unreachable.send(new PutObjectCommand({ Bucket, Key: 'esm/never', Body: 'x' })).then(() => undefined, (error) => error);
console.log(
  JSON.stringify({
    resolved: import.meta.resolve('@s3crypt/client'),
    roundTrip: readBack === text,
    storedHasPlaintext: stored.includes(text),
    kmsErrorIsS3CryptError: kmsError instanceof S3CryptError,
    kmsErrorCode: kmsError?.code,
    keyrings: [AwsKmsKeyring, AzureKeyVaultKeyring, GcpKmsKeyring, VaultTransitKeyring].map((exported) => typeof exported),
  }),
);
