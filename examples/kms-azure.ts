// Azure Key Vault: each object's data key is wrapped by a Key Vault RSA key (RSA-OAEP-256; or an
// AES key with A256KW on Managed HSM). The key never leaves the vault. Role "Key Vault Crypto User".
//
// RSA wrapping is public-key wrapping: anyone holding the public key could write an object "for"
// it, so readers accept such objects only when they are signed by a writer key they pin. The writer
// signs with an ECDSA P-384 key from your secret store:
//   openssl ecparam -name secp384r1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out writer.pem
// (A256KW on Managed HSM is symmetric and needs no signature.)
//
// The credential is a parameter: any TokenCredential. In an application, `npm install @azure/identity`
// and pass `new DefaultAzureCredential()` (managed identity, workload identity, `az login`, …).
// main() below does without that package: it takes a token from `az account get-access-token`.
//
// Run: S3_BUCKET=my-bucket AZURE_KEY_ID=https://my-vault.vault.azure.net/keys/s3crypt-kek \
//      AZURE_ACCESS_TOKEN=$(az account get-access-token --resource https://vault.azure.net --query accessToken -o tsv) \
//      S3CRYPT_SIGNING_KEY_FILE=writer.pem node --import tsx examples/kms-azure.ts
// (S3_ENDPOINT for MinIO or another S3-compatible store; credentials from the usual AWS variables.)
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { TokenCredential } from '@azure/core-auth';
import type { CryptographyClientOptions } from '@azure/keyvault-keys';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { EncryptingS3Client } from '@s3crypt/client';
import { AzureKeyVaultKeyring } from '@s3crypt/kms-azure';

export interface AzureExampleOptions {
  readonly bucket: string;
  /** Unversioned: new objects use the key's current version (old ones keep the version that wrapped them). */
  readonly keyId: string;
  readonly credential: TokenCredential;
  /** Passed to the Key Vault clients the keyring creates (retries, proxy, TLS agent, …). */
  readonly clientOptions?: CryptographyClientOptions;
  /** This writer's ECDSA P-384 private key. */
  readonly signingKey: KeyObject;
  /** The public keys of the writers readers accept. */
  readonly verificationKeys: readonly KeyObject[];
}

export async function runAzureExample(s3: S3Client, options: AzureExampleOptions): Promise<{ readBack: string; firstBytes: string }> {
  const keyring = new AzureKeyVaultKeyring({ keyId: options.keyId, credential: options.credential, ...(options.clientOptions ? { clientOptions: options.clientOptions } : {}) });
  const client = new EncryptingS3Client({ client: s3, keyring, signingKey: options.signingKey, keyPolicy: { verificationKeys: [...options.verificationKeys] } });

  await client.send(new PutObjectCommand({ Bucket: options.bucket, Key: 'kms-azure/report.csv', Body: 'region,total\neu,120\nus,80\n' }));
  const whole = await client.send(new GetObjectCommand({ Bucket: options.bucket, Key: 'kms-azure/report.csv' }));
  const range = await client.send(new GetObjectCommand({ Bucket: options.bucket, Key: 'kms-azure/report.csv', Range: 'bytes=0-5' }));
  return { readBack: await whole.Body!.transformToString(), firstBytes: await range.Body!.transformToString() };
}

/** A fixed access token as a TokenCredential (it expires: fine for a try-out, not for a service). */
function accessTokenCredential(token: string): TokenCredential {
  return { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 5 * 60_000 }) };
}

async function main(): Promise<void> {
  const { S3_BUCKET: bucket, AZURE_KEY_ID: keyId, AZURE_ACCESS_TOKEN: token, S3CRYPT_SIGNING_KEY_FILE: signingKeyFile } = process.env;
  if (!bucket || !keyId || !token || !signingKeyFile) throw new Error('set S3_BUCKET, AZURE_KEY_ID, AZURE_ACCESS_TOKEN and S3CRYPT_SIGNING_KEY_FILE');
  const s3 = new S3Client({ region: process.env.AWS_REGION ?? 'us-east-1', ...(process.env.S3_ENDPOINT ? { endpoint: process.env.S3_ENDPOINT, forcePathStyle: true } : {}) });
  const signingKey = createPrivateKey(readFileSync(signingKeyFile));
  const result = await runAzureExample(s3, { bucket, keyId, credential: accessTokenCredential(token), signingKey, verificationKeys: [createPublicKey(signingKey)] });
  console.log(result.readBack);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
