import { LayoutHints } from './layout-hints.js';
import { S3Client } from '@aws-sdk/client-s3';
import type { KeyObject } from 'node:crypto';
import type { AuditStats } from '../audit/buffer.js';
import { resolveAuditOptions, type AuditOptions } from '../audit/options.js';
import { AuditEmitter } from '../audit/scope.js';
import { DEFAULT_SEGMENT_SIZE, MAX_SEGMENT_SIZE, MIN_SEGMENT_SIZE } from '../format/constants.js';
import { checkP384Key, signerIdOf } from '../format/signature.js';
import type { Keyring } from '../keyrings/keyring.js';
import { ResolvedKeyPolicy, type KeyPolicy } from './key-policy.js';
import { requestOptionsOf, type CustomerKeyHandling, type S3CryptRequestOptions } from './request-options.js';
import { customerKeyRequest, passThroughCommand } from './customer-keys.js';
import { withCommandMiddleware } from './command-middleware.js';
import type { HandlerContext, SendOptions } from './context.js';
import { copyObject } from './copy-object.js';
import { getObject } from './get-object.js';
import { headObject } from './head-object.js';
import { registerInternals } from './internals.js';
import { abortMultipartUpload, completeMultipartUpload, createMultipartUpload, uploadPart } from './multipart.js';
import { MultipartUploads } from './multipart-state.js';
import { rejectionNamingObject } from './object-errors.js';
import { operationName } from './operation.js';
import { plaintextReadPolicy, type PlaintextReadSelection } from './plaintext-reads.js';
import { putObject } from './put-object.js';
import { resolveS3ecOptions, type S3ecOptions } from './s3ec-options.js';
import { resolveParallelReads, type ParallelReadClientOptions } from '../parallel/options.js';

/**
 * @example
 * ```ts
 * const options: EncryptingS3ClientOptions = { client: new S3Client({}), keyring, segmentSize: 64 * 1024 };
 * ```
 */
export interface EncryptingS3ClientOptions {
  /** The S3 client that talks to the store. It is used as is; its configuration and middleware are shared. */
  readonly client: S3Client;
  /** Wraps and unwraps the per-object data keys. */
  readonly keyring: Keyring;
  /** Plaintext bytes per authenticated segment of new objects, 4 KiB to 8 MiB. Default 256 KiB. */
  readonly segmentSize?: number;
  /**
   * Which objects this client will decrypt: trusted KEKs (default: the keyring's own), limits on
   * wrapped keys and unwrap attempts, the oldest format version, pinned signers. See {@link KeyPolicy}.
   */
  readonly keyPolicy?: KeyPolicy;
  /**
   * An ECDSA P-384 private key: every object written is signed (format 2, suite 2), so readers that
   * pin its public key know who wrote it. Needed for authenticity with public-key (RSA) wrapping.
   */
  readonly signingKey?: KeyObject;
  /**
   * The objects that may be read as plaintext when they carry no s3crypt envelope: buckets, each
   * optionally narrowed to a key prefix (no prefix = the whole bucket), or a `(bucket, key) => boolean`.
   * Any other object without an envelope fails with `ERR_NOT_ENCRYPTED`. For migrations only: such
   * objects are not authenticated; outputs of plaintext reads carry `S3Crypt: { encrypted: false }`,
   * and CopyObject of such an object writes an encrypted copy. The boolean form was removed: `true`
   * is refused with a TypeError.
   */
  readonly allowPlaintextReads?: PlaintextReadSelection;
  /**
   * Records one event per key operation (generate, wrap, unwrap, policy refusal, plaintext read,
   * store) into `audit.sink`, through a bounded buffer; `audit.whenFull` chooses between blocking,
   * dropping and failing closed. See {@link AuditOptions} and docs/AUDIT.md.
   */
  readonly audit?: AuditOptions;
  /**
   * What `SSECustomerKey` (and CopyObject's `CopySourceSSECustomerKey`) means. `'client-side'`
   * (default): the key is the object's own key-encryption key, used by this client and removed
   * from every request sent to the store, which never sees it or its MD5; reading the object then
   * needs the same key (`ERR_CUSTOMER_KEY_REQUIRED`, `ERR_CUSTOMER_KEY_MISMATCH`). `'store'`: the
   * fields go to the store as real SSE-C, and the object is also encrypted under `keyring` as usual.
   * A command can choose otherwise with `withS3Crypt(command, { customerKeys })`.
   */
  readonly customerKeys?: CustomerKeyHandling;
  /**
   * With client-side customer keys: also wrap each such object's data key under `keyring`, so that
   * the keyring's holders can read it without the customer key (recovery). Default false: only the
   * customer key opens the object.
   */
  readonly customerKeyEscrow?: boolean;
  /**
   * Read objects written by the AWS S3 Encryption Client (its format V3, and V2/V1 as the commitment
   * policy allows), through GetObject, HeadObject and CopyObject. Default: such objects are refused
   * with `ERR_S3EC_DISABLED`. With `s3ec.write`, new objects are written in its format V3 (PutObject
   * and multipart uploads, parts in order). See docs/INTEROP.md.
   */
  readonly s3ec?: S3ecOptions;
  /**
   * Fetch large objects as several ranged GETs at once, authenticated and decrypted on worker
   * threads and delivered in order: `true` or settings for every GetObject; default off (one GET,
   * as S3Client). A request can choose otherwise with `withS3Crypt(command, { parallelReads })`.
   * See {@link ParallelReadClientOptions} and docs/PERFORMANCE.md.
   */
  readonly parallelReads?: boolean | ParallelReadClientOptions;
}

interface SendableCommand {
  readonly input: unknown;
  readonly schema?: unknown;
}

type Handler = (ctx: HandlerContext, input: never, options: SendOptions, request: S3CryptRequestOptions) => Promise<unknown>;

const HANDLERS: Readonly<Record<string, Handler>> = {
  PutObject: putObject,
  GetObject: getObject,
  HeadObject: headObject,
  CopyObject: copyObject,
  CreateMultipartUpload: createMultipartUpload,
  UploadPart: uploadPart,
  CompleteMultipartUpload: completeMultipartUpload,
  AbortMultipartUpload: abortMultipartUpload,
};

// Commands that would move or expose ciphertext in ways the format cannot authenticate.
const REFUSED: Readonly<Record<string, string>> = {
  UploadPartCopy: 'parts copied server-side from other objects cannot be re-encrypted; use CopyObject, or GetObject + Upload',
  SelectObjectContent: 'the store cannot query encrypted content',
  WriteGetObjectResponse: 'not supported through EncryptingS3Client',
};

/**
 * Makes the class's instances type-compatible with `S3Client` (e.g. lib-storage's `Upload({ client })`);
 * `S3Client.prototype` in the prototype chain makes `instanceof S3Client` true as well.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface EncryptingS3Client extends S3Client {}

/**
 * A drop-in `S3Client` that encrypts objects before they leave and authenticates and decrypts them
 * when they come back. PutObject, the multipart commands, GetObject (with Range or PartNumber),
 * HeadObject and CopyObject are handled; every other command passes through to the wrapped client.
 *
 * The SDK contract, in short (the README's compatibility table has the rest):
 * - `client instanceof S3Client` is true (for the `@aws-sdk/client-s3` copy this package resolves),
 *   so paginators and waiters accept it; no second S3Client is built: `send`, `config`,
 *   `middlewareStack`, `initConfig` and `destroy` are the wrapped client's or this class's own.
 * - Client middleware (`client.middlewareStack`, which is the wrapped client's) runs on every
 *   request sent to the store, including the internal ones, and sees what the store sees: ciphertext
 *   bodies, envelope metadata, internal `Range` headers and ciphertext lengths.
 * - Middleware added to a command runs on every request the store receives for that command: the
 *   ciphertext PUT or UploadPart, each ranged GET of a GetObject (tail, trailer, body), the HEAD and
 *   tail GET of a HeadObject, the source GETs and the COPY of a CopyObject, the trailer part and the
 *   Complete of a CompleteMultipartUpload. It sees those internal inputs and outputs (ciphertext,
 *   internal ranges), never the decrypted output `send` resolves to, and runs once per request.
 *   A small last part held back until Complete sends nothing, so its middleware does not run.
 *
 * @example
 * ```ts
 * const client = new EncryptingS3Client({ client: new S3Client({ region: 'eu-west-1' }), keyring });
 * await client.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'secret' }));
 * const text = await (await client.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' }))).Body!.transformToString();
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class EncryptingS3Client {
  readonly #context: HandlerContext;
  readonly #audit: AuditEmitter | undefined;
  readonly #customerKeys: CustomerKeyHandling;
  readonly #customerKeyEscrow: boolean;

  constructor(options: EncryptingS3ClientOptions) {
    if (!options || typeof options.client?.send !== 'function') throw new TypeError('EncryptingS3Client: options.client must be an S3Client');
    if (typeof options.keyring?.onEncrypt !== 'function' || typeof options.keyring.onDecrypt !== 'function') {
      throw new TypeError('EncryptingS3Client: options.keyring must be a Keyring');
    }
    const segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    if (!Number.isInteger(segmentSize) || segmentSize < MIN_SEGMENT_SIZE || segmentSize > MAX_SEGMENT_SIZE) {
      throw new TypeError(`EncryptingS3Client: segmentSize must be an integer from ${MIN_SEGMENT_SIZE} to ${MAX_SEGMENT_SIZE}`);
    }
    if (options.signingKey !== undefined) checkP384Key(options.signingKey, 'private', 'EncryptingS3Client: signingKey');
    if (options.customerKeys !== undefined && options.customerKeys !== 'client-side' && options.customerKeys !== 'store') {
      throw new TypeError("EncryptingS3Client: customerKeys must be 'client-side' or 'store'");
    }
    if (options.customerKeyEscrow !== undefined && typeof options.customerKeyEscrow !== 'boolean') throw new TypeError('EncryptingS3Client: customerKeyEscrow must be a boolean');
    const s3ec = resolveS3ecOptions(options.s3ec);
    this.#customerKeys = options.customerKeys ?? 'client-side';
    this.#customerKeyEscrow = options.customerKeyEscrow ?? false;
    this.#audit = options.audit === undefined ? undefined : new AuditEmitter(resolveAuditOptions(options.audit), options.client.config?.credentials);
    this.#context = {
      inner: options.client,
      keyring: options.keyring,
      policy: new ResolvedKeyPolicy(options.keyPolicy, options.keyring),
      ...(options.signingKey ? { signingKey: options.signingKey, signerId: signerIdOf(options.signingKey) } : {}),
      segmentSize,
      plaintextReads: plaintextReadPolicy(options.allowPlaintextReads),
      ...(s3ec ? { s3ec } : {}),
      uploads: new MultipartUploads(),
      layoutHints: new LayoutHints(),
      parallelReads: resolveParallelReads(options.parallelReads),
    };
    registerInternals(this, { context: this.#context, audit: this.#audit, customerKeys: this.#customerKeys, customerKeyEscrow: this.#customerKeyEscrow });
    // lib-storage and other helpers read `config` (endpoint, checksums, request handler) and `middlewareStack`.
    Object.defineProperty(this, 'config', { value: options.client.config, enumerable: true });
    Object.defineProperty(this, 'middlewareStack', { get: () => options.client.middlewareStack, enumerable: true });
    Object.defineProperty(this, 'initConfig', { get: () => options.client.initConfig, enumerable: true });
  }

  static {
    // Helpers check `client instanceof S3Client`; every member they may reach is defined above or below.
    Object.setPrototypeOf(this.prototype, S3Client.prototype);
  }

  /**
   * Sends a command like `S3Client.send`, encrypting or decrypting where the command moves object
   * data. Promise and callback forms are both accepted, as on `S3Client`.
   */
  readonly send: S3Client['send'] = ((command: SendableCommand, optionsOrCallback?: unknown, callback?: unknown) => {
    const options = typeof optionsOrCallback === 'function' ? undefined : (optionsOrCallback as SendOptions);
    const done = (typeof optionsOrCallback === 'function' ? optionsOrCallback : callback) as ((err: unknown, data?: unknown) => void) | undefined;
    const result = this.#dispatch(command, options);
    if (!done) return result;
    result.then((data) => done(null, data), (error: unknown) => done(error));
    return undefined;
  }) as S3Client['send'];

  #dispatch(command: SendableCommand, options: SendOptions): Promise<unknown> {
    const name = operationName(command);
    const handler = HANDLERS[name];
    const request = requestOptionsOf(command as object);
    const customerKeys = this.#customerKeyHandling(name, command.input, request);
    if (handler) {
      let keys;
      try {
        keys = customerKeyRequest(this.#context, name, command.input, customerKeys, this.#customerKeyEscrow);
      } catch (error) {
        return Promise.reject(error);
      }
      const audit = this.#audit?.scope(name);
      const ctx = withCommandMiddleware(audit ? { ...keys.ctx, audit } : keys.ctx, command);
      const result = handler(ctx, keys.input as never, options, { ...request, customerKeys });
      void result.then(keys.release, keys.release);
      return rejectionNamingObject(audit ? audit.completing(result, command.input) : result, command.input);
    }
    const refusal = REFUSED[name];
    if (refusal) return Promise.reject(new TypeError(`${name}: ${refusal}`));
    // Never pass a key on to the store unless the caller asked for real SSE-C.
    return this.#context.inner.send(passThroughCommand(command, customerKeys) as never, options as never);
  }

  /**
   * Client-side or store: an UploadPart or Complete follows its upload's Create (lib-storage cannot
   * mark its part commands, and a key must not reach the store halfway through an upload); any other
   * command its own `withS3Crypt` choice, else the client's.
   */
  #customerKeyHandling(name: string, input: unknown, request: S3CryptRequestOptions): CustomerKeyHandling {
    if (name === 'UploadPart' || name === 'CompleteMultipartUpload') {
      const upload = this.#context.uploads.customerKeysOf((input as { UploadId?: unknown } | undefined)?.UploadId);
      if (upload) return upload;
    }
    return request.customerKeys ?? this.#customerKeys;
  }

  /**
   * The audit buffer's counters (events emitted, written, dropped, failed, pending), or `undefined`
   * when the client does not audit.
   *
   * @example
   * ```ts
   * const stats = client.auditStats();
   * if (stats && stats.dropped > 0) log.warn({ dropped: stats.dropped }, 'audit events dropped');
   * ```
   */
  auditStats(): AuditStats | undefined {
    return this.#audit?.stats();
  }

  /**
   * Resolves once every audit event emitted so far has been handed to the sink and accepted (or has
   * failed, see {@link EncryptingS3Client.auditStats}). Call it before exit in `block` or `drop` mode.
   *
   * @example
   * ```ts
   * await client.flushAudit();
   * ```
   */
  async flushAudit(): Promise<void> {
    await this.#audit?.drained();
  }

  /**
   * Zeroes the data keys of unfinished multipart uploads and destroys the wrapped client. An audit
   * sink is closed once the events already buffered are delivered (await `flushAudit()` first to
   * know when).
   */
  destroy(): void {
    this.#context.uploads.endAll();
    this.#context.parallelReads?.pool.destroy();
    this.#context.inner.destroy();
    // destroy() is synchronous, as on S3Client; a failure to close is the sink's to report.
    this.#audit?.close().catch(() => undefined);
  }
}
