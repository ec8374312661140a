// A plain ESM app using the packed packages (run by test/packaging.test.ts in a fresh project).
/* global process, console */
import { S3Client, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { createRequire } from 'node:module';
import { EncryptingS3Client, S3CryptError, withS3Crypt } from '@s3crypt/client';
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

// Dual-package hazard: a CommonJS dependency of this app may load the other build. Options attached
// by that build's withS3Crypt must still reach this build's client (a shared Symbol.for key).
const cjsBuild = createRequire(import.meta.url)('@s3crypt/client');
const contextKey = 'esm/context.txt';
const context = { encryptionContext: { tenant: 'acme' } };
await client.send(cjsBuild.withS3Crypt(new PutObjectCommand({ Bucket, Key: contextKey, Body: text }), context));
const withoutContext = await client.send(new GetObjectCommand({ Bucket, Key: contextKey })).then(() => 'read', (error) => error.code);
const withContext = await (await client.send(withS3Crypt(new GetObjectCommand({ Bucket, Key: contextKey }), context))).Body.transformToString();

console.log(
  JSON.stringify({
    contextAcrossBuilds: {
      otherBuild: createRequire(import.meta.url).resolve('@s3crypt/client'),
      withoutContext,
      withContext: withContext === text,
    },
    resolved: import.meta.resolve('@s3crypt/client'),
    roundTrip: readBack === text,
    storedHasPlaintext: stored.includes(text),
    kmsErrorIsS3CryptError: kmsError instanceof S3CryptError,
    kmsErrorCode: kmsError?.code,
    keyrings: [AwsKmsKeyring, AzureKeyVaultKeyring, GcpKmsKeyring, VaultTransitKeyring].map((exported) => typeof exported),
  }),
);
