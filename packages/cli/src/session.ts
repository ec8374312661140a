// What every command shares: the S3 client (the AWS SDK's default chain plus --endpoint-url,
// --region, --profile), and, built only when a command needs a key, the EncryptingS3Client with the
// keyring of --key/S3CRYPT_KEY, the key policy options, the customer key and the audit log.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { EncryptingS3Client, type EncryptionContext, type KeyPolicy, type Keyring, type PlaintextReadSelection, type S3CryptRequestOptions, type S3ecCommitmentPolicy } from '@s3crypt/client';
import { TamperEvidentLog } from '@s3crypt/audit';
import { CliError, ExitCode, usageError } from './exit-codes.js';
import { readLocalFile } from './local-files.js';
import { keyringForSpecs, parseKeyFile, parseKeySpec, type KeySpec } from './key-spec.js';
import { parsePrefixLocation } from './locations.js';

/** The options every command takes (see `s3crypt --help`). */
export interface GlobalOptions {
  readonly key?: string[];
  readonly endpointUrl?: string;
  readonly region?: string;
  readonly profile?: string;
  readonly customerKeyFile?: string;
  readonly auditLog?: string;
  readonly auditSigningKey?: string;
  readonly context?: string[];
  readonly discovery?: boolean;
  readonly minFormatVersion?: string;
  readonly verifyWith?: string[];
  readonly signWith?: string;
  readonly allowPlaintextRead?: string[];
  readonly s3ec?: boolean;
  readonly s3ecCommitmentPolicy?: string;
  readonly s3ecLegacy?: boolean;
  readonly s3ecWrite?: boolean;
  readonly s3ecInstructionFile?: boolean;
  readonly rangesInFlight?: number;
  readonly quiet?: boolean;
}

const DEFAULT_RANGES_IN_FLIGHT = 4;

/** The SSE-C-style fields that carry a customer key on every object request (kept client-side). */
export interface CustomerKeyFields {
  readonly SSECustomerAlgorithm: 'AES256';
  readonly SSECustomerKey: string;
  readonly SSECustomerKeyMD5: string;
}

export interface Output {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream;
  readonly env: NodeJS.ProcessEnv;
}

/** `k=v` pairs (`--context`, `--tag`, `--metadata`) as a record. */
export function keyValues(pairs: readonly string[] | undefined, option: string): Record<string, string> {
  const record: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usageError(`${option} takes KEY=VALUE (got ${JSON.stringify(pair)})`);
    record[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return record;
}

async function readPem(path: string, what: string): Promise<string> {
  return (await readLocalFile(path, what, ExitCode.Key)).toString('utf8');
}

function keyObject(make: () => KeyObject, path: string, what: string): KeyObject {
  try {
    return make();
  } catch (error) {
    throw new CliError(ExitCode.Key, `${path} is not a usable ${what} (PEM expected)`, { cause: error });
  }
}

/** One CLI invocation's clients and settings; `close()` flushes and seals the audit log. */
export class Session {
  readonly s3: S3Client;
  readonly options: GlobalOptions;
  readonly io: Output;
  /** The caller encryption context of `--context`, for every object request. */
  readonly encryptionContext: EncryptionContext;
  #client: Promise<EncryptingS3Client> | undefined;
  /** Clients built with another keyring: their audit events are flushed on close too. */
  readonly #others: Promise<EncryptingS3Client>[] = [];
  #customerKey: Promise<CustomerKeyFields | undefined> | undefined;
  #auditLog: TamperEvidentLog | undefined;

  constructor(options: GlobalOptions, io: Output) {
    this.options = options;
    this.io = io;
    this.encryptionContext = keyValues(options.context, '--context');
    if (options.minFormatVersion !== undefined && !['1', '2'].includes(options.minFormatVersion)) throw usageError('--min-format-version is 1 or 2');
    if ((options.auditLog === undefined) !== (options.auditSigningKey === undefined)) {
      throw usageError('--audit-log DIR and --audit-signing-key PEM go together: the log is tamper-evident, its checkpoints signed with that key');
    }
    const endpoint = options.endpointUrl ?? io.env.AWS_ENDPOINT_URL_S3 ?? io.env.AWS_ENDPOINT_URL;
    const config: S3ClientConfig = {
      ...(options.endpointUrl ? { endpoint: options.endpointUrl } : {}),
      // S3-compatible stores at an explicit endpoint (MinIO, Ceph) usually serve path-style URLs only.
      ...(endpoint ? { forcePathStyle: true } : {}),
      ...(options.region ? { region: options.region } : endpoint && !io.env.AWS_REGION && !io.env.AWS_DEFAULT_REGION ? { region: 'us-east-1' } : {}),
      ...(options.profile ? { profile: options.profile } : {}),
    };
    this.s3 = new S3Client(config);
  }

  /** The `--key` specs, or `S3CRYPT_KEY` (specs separated by commas) when none is given. */
  keySpecs(): KeySpec[] {
    const given = this.options.key?.length ? this.options.key : (this.io.env.S3CRYPT_KEY ?? '').split(',').filter((spec) => spec !== '');
    return given.map(parseKeySpec);
  }

  warn(line: string): void {
    this.io.stderr.write(`${line}\n`);
  }

  async keyring(specs: readonly KeySpec[] = this.keySpecs()): Promise<Keyring> {
    try {
      return await keyringForSpecs(specs, { region: this.options.region, s3ecLegacy: this.options.s3ecLegacy, env: this.io.env }, (line) => this.warn(line));
    } catch (error) {
      // A keyring constructor refusing its arguments (a malformed key id) is a usage error.
      if (error instanceof TypeError) throw usageError(error.message);
      throw error;
    }
  }

  /** The encrypting client, built on first use (commands that need no key never load one). */
  client(): Promise<EncryptingS3Client> {
    this.#client ??= this.#buildClient(undefined);
    return this.#client;
  }

  /** An encrypting client with another keyring (rotation's target), sharing this session's settings. */
  clientWith(keyring: Keyring): Promise<EncryptingS3Client> {
    const client = this.#buildClient(keyring);
    this.#others.push(client);
    return client;
  }

  async #buildClient(keyringOverride: Keyring | undefined): Promise<EncryptingS3Client> {
    const keyring = keyringOverride ?? (await this.keyring());
    const o = this.options;
    const verificationKeys = await Promise.all((o.verifyWith ?? []).map(async (path) => {
      const pem = await readPem(path, 'public key');
      return keyObject(() => createPublicKey(pem), path, 'public key');
    }));
    const keyPolicy: KeyPolicy = {
      ...(o.discovery ? { trustedKeks: 'discovery' as const } : {}),
      ...(o.minFormatVersion ? { minFormatVersion: Number(o.minFormatVersion) as 1 | 2 } : {}),
      ...(verificationKeys.length ? { verificationKeys } : {}),
    };
    const signingPem = o.signWith ? await readPem(o.signWith, 'signing key') : undefined;
    const signingKey = o.signWith && signingPem ? keyObject(() => createPrivateKey(signingPem), o.signWith, 'private key') : undefined;
    const allowPlaintextReads: PlaintextReadSelection = (o.allowPlaintextRead ?? []).map((text) => {
      const { bucket, key } = parsePrefixLocation(text, '--allow-plaintext-read');
      return key ? { bucket, prefix: key } : { bucket };
    });
    const audit = await this.#audit();
    return new EncryptingS3Client({
      client: this.s3,
      keyring,
      keyPolicy,
      ...(signingKey ? { signingKey } : {}),
      ...(allowPlaintextReads.length ? { allowPlaintextReads } : {}),
      ...(audit ? { audit: { sink: audit, whenFull: 'fail-closed' as const } } : {}),
      // Downloads of large objects are parallel by default, as in other S3 command-line tools.
      parallelReads: (o.rangesInFlight ?? DEFAULT_RANGES_IN_FLIGHT) > 1 ? { concurrency: o.rangesInFlight ?? DEFAULT_RANGES_IN_FLIGHT } : false,
      ...(o.s3ec || o.s3ecWrite
        ? {
            s3ec: {
              commitmentPolicy: (o.s3ecCommitmentPolicy ?? 'require-encrypt-require-decrypt') as S3ecCommitmentPolicy,
              legacyUnauthenticatedModes: o.s3ecLegacy === true,
              ...(o.s3ecWrite ? { write: o.s3ecInstructionFile ? { instructionFile: true } : true } : {}),
            },
          }
        : {}),
    });
  }

  async #audit(): Promise<TamperEvidentLog | undefined> {
    const { auditLog, auditSigningKey } = this.options;
    if (auditLog === undefined || auditSigningKey === undefined) return undefined;
    if (this.#auditLog) return this.#auditLog;
    await mkdir(auditLog, { recursive: true, mode: 0o700 });
    this.#auditLog = await TamperEvidentLog.open({ directory: auditLog, signingKey: await readPem(auditSigningKey, 'audit signing key') });
    return this.#auditLog;
  }

  /** The `--customer-key-file` key as the SSE-C fields of a request, or undefined. */
  customerKey(): Promise<CustomerKeyFields | undefined> {
    this.#customerKey ??= this.#readCustomerKey();
    return this.#customerKey;
  }

  async #readCustomerKey(): Promise<CustomerKeyFields | undefined> {
    const path = this.options.customerKeyFile;
    if (path === undefined) return undefined;
    const contents = await readLocalFile(path, 'customer key file', ExitCode.Key);
    const key = parseKeyFile(contents, path);
    contents.fill(0);
    const fields: CustomerKeyFields = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.toString('base64'), SSECustomerKeyMD5: createHash('md5').update(key).digest('base64') };
    key.fill(0);
    return fields;
  }

  /** Per-request s3crypt options: the `--context` encryption context. */
  requestOptions(): S3CryptRequestOptions {
    return Object.keys(this.encryptionContext).length ? { encryptionContext: this.encryptionContext } : {};
  }

  /** Flushes audit events and seals the audit log; releases the clients. */
  async close(): Promise<void> {
    const built = [...(this.#client ? [this.#client] : []), ...this.#others];
    const clients = await Promise.all(built.map((client) => client.catch(() => undefined)));
    try {
      for (const client of clients) await client?.flushAudit();
    } finally {
      await this.#auditLog?.close();
      this.s3.destroy();
    }
  }
}
