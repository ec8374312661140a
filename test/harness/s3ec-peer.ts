// The official AWS S3 Encryption Client for Python (amazon-s3-encryption-client-python, the "peer")
// as a subprocess, for the S3EC interoperability tests: typed wrappers around test/harness/s3ec_peer.py,
// run with the interpreter of the venv that scripts/install-servers.sh s3ec creates. The peer's only
// keyring is the KMS keyring, so every call names a KMS key on the test KMS server (moto).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { markedBytes } from './clients.js';
import { CreateKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { S3Client } from '@aws-sdk/client-s3';
import { freshBucket, s3Client, type S3Endpoint } from './minio.js';
import { kmsClient, motoFromEnvOrStarted } from './moto.js';
import { SERVER_CACHE } from './process.js';

/** The Python that has the peer installed: S3EC_PYTHON, else the wrapper install-servers.sh writes. */
export const S3EC_PYTHON = process.env.S3EC_PYTHON ?? join(SERVER_CACHE, 'bin', 's3ec-python');
export const S3EC_PEER_DRIVER = fileURLToPath(new URL('./s3ec_peer.py', import.meta.url));
/** The peer version the interoperability tests are pinned to (as in scripts/install-servers.sh). */
export const S3EC_PEER_VERSION = '4.0.0';

const MiB = 1024 * 1024;
/** The sizes issue 9 asks for: empty, one byte, one GCM block ± 1, 1 MiB, 20 MiB. */
export const PEER_SIZES: readonly number[] = [0, 1, 15, 16, 17, MiB, 20 * MiB];
/** S3's smallest non-final part, and the smallest part size the peer accepts. */
export const PEER_MIN_PART_SIZE = 5 * MiB;
/** The peer's own upload_file threshold: from this size on, a real user's upload goes multipart. */
export const PEER_MULTIPART_THRESHOLD = 8 * MiB;

/** Where the peer writes and reads: the test S3 server and the KMS server holding the keys. */
export interface PeerServers {
  readonly s3: S3Endpoint;
  readonly kmsEndpoint: string;
}

/** `v3`: suite 115 with key commitment (the peer's default). `v2`: AES/GCM/NoPadding, no commitment. */
export type PeerFormat = 'v3' | 'v2';
/** The peer's commitment policies, by their Python names. */
export type PeerCommitmentPolicy = 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT' | 'REQUIRE_ENCRYPT_ALLOW_DECRYPT' | 'FORBID_ENCRYPT_ALLOW_DECRYPT';
export type PeerEncryptionContext = Readonly<Record<string, string>>;

/** An object as stored: its raw user metadata (names without `x-amz-meta-`), stored length and ETag. */
export interface PeerStoredObject {
  readonly metadata: Readonly<Record<string, string>>;
  readonly contentLength: number;
  readonly eTag: string;
}

export interface PeerVersions {
  readonly 'amazon-s3-encryption-client-python': string;
  readonly boto3: string;
  readonly botocore: string;
  readonly cryptography: string;
  readonly python: string;
}

export interface PeerObjectAddress {
  readonly bucket: string;
  readonly key: string;
}

export interface PeerPutOptions extends PeerObjectAddress {
  readonly kmsKeyId: string;
  readonly body: Uint8Array | string;
  readonly encryptionContext?: PeerEncryptionContext;
  /** Default `v3`. */
  readonly format?: PeerFormat;
  /** Through the peer's multipart path (upload_fileobj), in parts of `partSize` (default 8 MiB, at least 5 MiB). */
  readonly multipart?: boolean;
  readonly partSize?: number;
  /** Extra user metadata, stored next to the peer's own. */
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface PeerGetOptions extends PeerObjectAddress {
  readonly kmsKeyId: string;
  /** Must equal what the object was written with (minus the reserved `aws:x-amz-cek-alg`). */
  readonly encryptionContext?: PeerEncryptionContext;
  /** Default: the peer's own default, REQUIRE_ENCRYPT_REQUIRE_DECRYPT (V2 objects are refused). */
  readonly commitmentPolicy?: PeerCommitmentPolicy;
  /** Allow CBC (V1) content. */
  readonly legacyUnauthenticated?: boolean;
  /** Allow the legacy `kms` key wrapping (V1). */
  readonly legacyWrapping?: boolean;
  /** Let the peer release plaintext before the GCM tag is checked. */
  readonly delayedAuthentication?: boolean;
  /** Default `.instruction`. */
  readonly instructionFileSuffix?: string;
}

/** The peer failed: `pythonError` names the Python exception (e.g. `S3EncryptionClientError`). */
export class PeerError extends Error {
  constructor(
    message: string,
    readonly pythonError: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'PeerError';
  }
}

let available: Promise<PeerVersions> | undefined;

/**
 * Resolves the installed versions once the peer is known to be installed at the pinned version;
 * rejects with what to run when it is not. Every wrapper below calls it first.
 */
export function assertPeerAvailable(): Promise<PeerVersions> {
  available ??= (async () => {
    if (!existsSync(S3EC_PYTHON)) {
      throw new Error(
        `The S3EC Python peer is not installed: ${S3EC_PYTHON} does not exist. Run scripts/install-servers.sh s3ec ` +
          `(or set S3EC_PYTHON to a Python with amazon-s3-encryption-client-python==${S3EC_PEER_VERSION}).`,
      );
    }
    const result = await runDriver(['versions'], {});
    if (result.code !== 0) {
      const cause = driverError('versions', result);
      throw new Error(`${S3EC_PYTHON} cannot run the S3EC peer (${cause.message}): run scripts/install-servers.sh s3ec`, { cause });
    }
    const versions = JSON.parse(result.stdout.toString()) as PeerVersions;
    const installed = versions['amazon-s3-encryption-client-python'];
    if (installed !== S3EC_PEER_VERSION) {
      throw new Error(`${S3EC_PYTHON} has amazon-s3-encryption-client-python ${installed}, the tests are pinned to ${S3EC_PEER_VERSION}: run scripts/install-servers.sh s3ec`);
    }
    return versions;
  })();
  available.catch(() => (available = undefined));
  return available;
}

/** Encrypts `body` with the peer and stores it; resolves what it stored (its metadata, not the body). */
export async function peerPut(servers: PeerServers, options: PeerPutOptions): Promise<PeerStoredObject> {
  const args = ['put', ...address(options), '--kms-key-id', options.kmsKeyId, '--format', options.format ?? 'v3'];
  if (options.encryptionContext) args.push('--context', JSON.stringify(options.encryptionContext));
  if (options.multipart) args.push('--multipart');
  if (options.partSize !== undefined) args.push('--part-size', String(options.partSize));
  if (options.metadata) args.push('--metadata', JSON.stringify(options.metadata));
  const stdout = await peer(servers, args, typeof options.body === 'string' ? Buffer.from(options.body) : options.body);
  return JSON.parse(stdout.toString()) as PeerStoredObject;
}

/** Reads and decrypts an object with the peer; rejects with a PeerError when the peer refuses it. */
export async function peerGet(servers: PeerServers, options: PeerGetOptions): Promise<Buffer> {
  const args = ['get', ...address(options), '--kms-key-id', options.kmsKeyId];
  if (options.encryptionContext) args.push('--context', JSON.stringify(options.encryptionContext));
  if (options.commitmentPolicy) args.push('--commitment-policy', options.commitmentPolicy);
  if (options.legacyUnauthenticated) args.push('--legacy-unauthenticated');
  if (options.legacyWrapping) args.push('--legacy-wrapping');
  if (options.delayedAuthentication) args.push('--delayed-authentication');
  if (options.instructionFileSuffix !== undefined) args.push('--instruction-suffix', options.instructionFileSuffix);
  return peer(servers, args);
}

/** An object's raw user metadata, stored length and ETag, read by the peer's boto3 (no decryption). */
export async function peerMetadata(servers: PeerServers, options: PeerObjectAddress): Promise<PeerStoredObject> {
  return JSON.parse((await peer(servers, ['metadata', ...address(options)])).toString()) as PeerStoredObject;
}

/** The PeerError `promise` rejects with; fails if it resolves or rejects with anything else. */
export async function peerRejection(promise: Promise<unknown>): Promise<PeerError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PeerError) return error;
    throw error;
  }
  throw new Error('the peer accepted what it was expected to refuse');
}

/** One object the peer wrote, with what a reader needs to check it. */
export interface PeerObject extends PeerObjectAddress {
  readonly plaintext: Buffer;
  readonly format: PeerFormat;
  readonly multipart: boolean;
  readonly encryptionContext?: PeerEncryptionContext;
  readonly stored: PeerStoredObject;
}

export interface WritePeerObjectsOptions {
  readonly bucket: string;
  readonly kmsKeyId: string;
  /** Default PEER_SIZES. */
  readonly sizes?: readonly number[];
  /** Default both, V3 and V2. */
  readonly formats?: readonly PeerFormat[];
  /** Sizes from this one on go through the multipart path, as with the peer's upload_file. Default 8 MiB. */
  readonly multipartFrom?: number;
  /** Default PEER_MIN_PART_SIZE, so 20 MiB is four full parts with the tag in the last one. */
  readonly partSize?: number;
  readonly encryptionContext?: PeerEncryptionContext;
  /** Key prefix; keys are `<prefix><format>/<put|multipart>/<size>`. Default `peer/`. */
  readonly prefix?: string;
}

/**
 * Has the peer write one object per size and format (plaintext: `markedBytes`, so ciphertext can be
 * searched for it), one at a time, and resolves them in order, format by format.
 */
export async function writePeerObjects(servers: PeerServers, options: WritePeerObjectsOptions): Promise<PeerObject[]> {
  const written: PeerObject[] = [];
  const multipartFrom = options.multipartFrom ?? PEER_MULTIPART_THRESHOLD;
  for (const format of options.formats ?? (['v3', 'v2'] as const)) {
    for (const size of options.sizes ?? PEER_SIZES) {
      const multipart = size >= multipartFrom;
      const key = `${options.prefix ?? 'peer/'}${format}/${multipart ? 'multipart' : 'put'}/${size}`;
      const plaintext = markedBytes(size, size + (format === 'v3' ? 3 : 2));
      const stored = await peerPut(servers, {
        bucket: options.bucket,
        key,
        kmsKeyId: options.kmsKeyId,
        body: plaintext,
        format,
        multipart,
        partSize: options.partSize ?? PEER_MIN_PART_SIZE,
        ...(options.encryptionContext ? { encryptionContext: options.encryptionContext } : {}),
      });
      written.push({ bucket: options.bucket, key, plaintext, format, multipart, stored, ...(options.encryptionContext ? { encryptionContext: options.encryptionContext } : {}) });
    }
  }
  return written;
}

function address(options: PeerObjectAddress): string[] {
  return ['--bucket', options.bucket, '--key', options.key];
}

/** Runs one driver command against `servers` and resolves its stdout; rejects with a PeerError. */
async function peer(servers: PeerServers, args: readonly string[], stdin?: Uint8Array): Promise<Buffer> {
  await assertPeerAvailable();
  // Endpoints and credentials travel in the environment, so they stay out of process listings.
  const result = await runDriver(args, {
    S3EC_PEER_S3_ENDPOINT: servers.s3.endpoint,
    S3EC_PEER_S3_ACCESS_KEY_ID: servers.s3.accessKeyId,
    S3EC_PEER_S3_SECRET_ACCESS_KEY: servers.s3.secretAccessKey,
    S3EC_PEER_KMS_ENDPOINT: servers.kmsEndpoint,
  }, stdin);
  if (result.code !== 0) throw driverError(args[0]!, result);
  return result.stdout;
}

interface DriverResult {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

function runDriver(args: readonly string[], env: NodeJS.ProcessEnv, stdin?: Uint8Array): Promise<DriverResult> {
  const child = spawn(S3EC_PYTHON, [S3EC_PEER_DRIVER, ...args], {
    // Nothing of the machine's AWS setup leaks in: no profiles, no instance metadata lookups.
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_EC2_METADATA_DISABLED: 'true',
      PYTHONDONTWRITEBYTECODE: '1',
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.on('error', () => undefined); // a failing peer may exit before reading all of it
  child.stdin.end(stdin ?? Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(stdout), stderr }));
  });
}

/** The driver reports failures as a last stderr line {"error", "message"}; anything else is a crash. */
function driverError(command: string, result: DriverResult): PeerError {
  const last = result.stderr.trimEnd().split('\n').at(-1) ?? '';
  let reported: { error?: unknown; message?: unknown } = {};
  try {
    reported = JSON.parse(last) as typeof reported;
  } catch {
    // not the driver's own report: argparse usage errors, interpreter crashes
  }
  const pythonError = typeof reported.error === 'string' ? reported.error : 'crash';
  const message = typeof reported.message === 'string' ? reported.message : result.stderr.trim();
  return new PeerError(`s3ec peer ${command} failed (${pythonError}, exit ${result.code}): ${message}`, pythonError, result.code, result.stderr);
}

/** What every test against the peer needs: its servers, a KMS key on moto, a fresh bucket. */
export interface PeerFixture {
  readonly servers: PeerServers;
  readonly kms: KMSClient;
  /** A plain S3 client on the test MinIO. */
  readonly plain: S3Client;
  readonly bucket: string;
  readonly keyId: string;
  readonly keyArn: string;
  readonly versions: PeerVersions;
  stop(): Promise<void>;
}

/** Checks the peer is installed, starts (or reuses) moto, creates a KMS key and a fresh bucket. */
export async function startPeerFixture(s3: S3Endpoint, bucketPrefix: string, keyDescription: string): Promise<PeerFixture> {
  const versions = await assertPeerAvailable();
  const started = await motoFromEnvOrStarted();
  const kms = kmsClient(started.endpoint);
  const plain = s3Client(s3);
  const bucket = await freshBucket(plain, bucketPrefix);
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: keyDescription }));
  return {
    servers: { s3, kmsEndpoint: started.endpoint },
    kms,
    plain,
    bucket,
    keyId: KeyMetadata!.KeyId!,
    keyArn: KeyMetadata!.Arn!,
    versions,
    async stop() {
      kms.destroy();
      plain.destroy();
      await started.server?.stop();
    },
  };
}
