// `--key SPEC`: where a key-encryption key lives. Each provider's package is loaded only when a spec
// names it, so `s3crypt --help` or a local-key run never loads a cloud SDK.
import { createHmac } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { MultiKeyring, RawAesKeyring, S3ecAesKeyring, S3ecRsaKeyring, type Keyring } from '@s3crypt/client';
import { CliError, ExitCode, usageError } from './exit-codes.js';
import { readLocalFile } from './local-files.js';

/** The providers a `--key` spec can name, as `PROVIDER:VALUE`. */
export const KEY_SPEC_PROVIDERS = ['file', 'aws-kms', 'vault', 'azure', 'gcp', 's3ec-aes', 's3ec-rsa'] as const;
export type KeySpecProvider = (typeof KEY_SPEC_PROVIDERS)[number];

/** A parsed `--key` spec. */
export interface KeySpec {
  readonly provider: KeySpecProvider;
  readonly value: string;
}

/** Settings a spec's keyring takes from the command line and the environment. */
export interface KeyEnvironment {
  /** `--region`, also for AWS KMS (otherwise the AWS SDK's own chain decides). */
  readonly region?: string | undefined;
  /** `--s3ec-legacy`: the S3 Encryption Client keys also unwrap the legacy V1 wrappings. */
  readonly s3ecLegacy?: boolean | undefined;
  readonly env: NodeJS.ProcessEnv;
}

/** Parses `PROVIDER:VALUE`. */
export function parseKeySpec(text: string): KeySpec {
  const colon = text.indexOf(':');
  const provider = colon === -1 ? '' : text.slice(0, colon);
  const value = colon === -1 ? '' : text.slice(colon + 1);
  if (!(KEY_SPEC_PROVIDERS as readonly string[]).includes(provider) || value === '') {
    // Never the whole spec: a key pasted where its spec belongs (S3CRYPT_KEY=<base64>) must not reach a log.
    const got = colon === -1 ? 'no PROVIDER: prefix' : value === '' ? `nothing after ${JSON.stringify(`${provider}:`)}` : `provider ${JSON.stringify(provider)}`;
    throw usageError(`a key spec is PROVIDER:VALUE with PROVIDER one of ${KEY_SPEC_PROVIDERS.join(', ')} (e.g. file:./master.key, aws-kms:arn:aws:kms:…); got ${got}`);
  }
  return { provider: provider as KeySpecProvider, value };
}

/**
 * 32 bytes that are all printable ASCII are a passphrase or the hex of a 128-bit key written without
 * a newline, not 32 random bytes (which are all printable with probability (95/256)^32 ≈ 2·10⁻¹⁴):
 * taking them as a raw key would silently give a weak master key.
 */
function looksLikeText(bytes: Buffer): boolean {
  return bytes.every((byte) => byte >= 0x20 && byte <= 0x7e);
}

/** A raw key file: 32 raw bytes, or their base64 or hex (a trailing newline allowed). */
export function parseKeyFile(contents: Buffer, path: string): Buffer {
  if (contents.length === 32 && !looksLikeText(contents)) return Buffer.from(contents);
  const text = contents.toString('latin1').trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(text)) key = Buffer.from(text, 'hex');
  else if (/^[A-Za-z0-9+/]{43}=$/.test(text)) key = Buffer.from(text, 'base64');
  if (key?.length !== 32) {
    key?.fill(0);
    throw new CliError(ExitCode.Key, `${path} is not a 256-bit key file: expected 32 raw random bytes (not text), or 64 hex digits, or 44 base64 characters (make one with \`s3crypt keygen ${path}\`)`);
  }
  return key;
}

/**
 * The name a key file's key is recorded under in every object: derived from the key itself (an HMAC
 * of a fixed label, which reveals nothing about the key), so any copy of the file, under any name,
 * finds its objects, and two different keys never share a name.
 */
export function keyFileKeyName(key: Uint8Array): string {
  return `file-${createHmac('sha256', key).update('s3crypt cli key name v1').digest('hex').slice(0, 24)}`;
}

/** A key file's key in a keyring (by default s3crypt's RawAesKeyring, named after the key). */
async function fileKeyring(path: string, warn: (line: string) => void, make: (key: Buffer) => Keyring = (masterKey) => new RawAesKeyring({ keyName: keyFileKeyName(masterKey), masterKey })): Promise<Keyring> {
  let contents: Buffer;
  try {
    const info = await stat(path);
    if ((info.mode & 0o077) !== 0) warn(`warning: key file ${path} is readable by other users (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`);
    contents = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new CliError(ExitCode.NotFound, `key file ${path} does not exist (make one with \`s3crypt keygen ${path}\`)`);
    throw new CliError(ExitCode.Key, `cannot read key file ${path}: ${(error as Error).message}`, { cause: error });
  }
  let masterKey: Buffer;
  try {
    masterKey = parseKeyFile(contents, path);
  } finally {
    contents.fill(0); // also when it is not a key file: it may be one with a typo
  }
  try {
    return make(masterKey);
  } finally {
    masterKey.fill(0); // the keyring keeps its own copy
  }
}

function required(env: NodeJS.ProcessEnv, name: string, spec: string): string {
  const value = env[name];
  if (!value) throw usageError(`${spec} needs ${name} in the environment`);
  return value;
}

/** The keyring a spec names. */
export async function keyringFor(spec: KeySpec, environment: KeyEnvironment, warn: (line: string) => void): Promise<Keyring> {
  const { env } = environment;
  switch (spec.provider) {
    case 'file':
      return fileKeyring(spec.value, warn);
    case 'aws-kms': {
      const { AwsKmsKeyring } = await import('@s3crypt/kms-aws');
      return new AwsKmsKeyring({ keyId: spec.value, ...(environment.region ? { clientConfig: { region: environment.region } } : {}) });
    }
    case 'vault': {
      const { VaultTransitKeyring } = await import('@s3crypt/kms-vault');
      const endpoint = required(env, 'VAULT_ADDR', `vault:${spec.value}`);
      const token = required(env, 'VAULT_TOKEN', `vault:${spec.value}`);
      return new VaultTransitKeyring({ keyName: spec.value, endpoint, token, ...(env.VAULT_TRANSIT_MOUNT ? { mountPath: env.VAULT_TRANSIT_MOUNT } : {}) });
    }
    case 'azure': {
      const [{ AzureKeyVaultKeyring }, { DefaultAzureCredential }] = await Promise.all([import('@s3crypt/kms-azure'), import('@azure/identity')]);
      return new AzureKeyVaultKeyring({ keyId: spec.value, credential: new DefaultAzureCredential() });
    }
    case 'gcp': {
      const { GcpKmsKeyring } = await import('@s3crypt/kms-gcp');
      return new GcpKmsKeyring({ keyName: spec.value });
    }
    case 's3ec-aes': {
      // The raw AES key of objects the AWS S3 Encryption Client wrapped with AES/GCM (same key file format).
      return fileKeyring(spec.value, warn, (wrappingKey) => new S3ecAesKeyring({ wrappingKey, ...(environment.s3ecLegacy ? { enableLegacyWrappingAlgorithms: true } : {}) }));
    }
    case 's3ec-rsa': {
      // An RSA private key (PEM) of objects the S3 Encryption Client wrapped with RSA-OAEP-SHA1.
      const privateKey = (await readLocalFile(spec.value, 'RSA key file', ExitCode.Key)).toString('utf8');
      return new S3ecRsaKeyring({ privateKey, ...(environment.s3ecLegacy ? { enableLegacyWrappingAlgorithms: true } : {}) });
    }
  }
}

/**
 * The keyring of several specs: the first wraps new objects, every one may unwrap (later ones only
 * unwrap, so a retired key keeps its objects readable without receiving new ones).
 */
export async function keyringForSpecs(specs: readonly KeySpec[], environment: KeyEnvironment, warn: (line: string) => void): Promise<Keyring> {
  const [first, ...rest] = await Promise.all(specs.map((spec) => keyringFor(spec, environment, warn)));
  if (!first) throw new CliError(ExitCode.Usage, 'no key given: pass --key SPEC (e.g. --key file:./master.key) or set S3CRYPT_KEY');
  return rest.length === 0 ? first : new MultiKeyring({ generator: first, decryptOnly: rest });
}
