// Emitting audit events: the client's emitter, one scope per `send` (command, request id, principal),
// and the read of one object within it. The key seam (materials.ts) and the few places that learn an
// outcome (plaintext reads, object identity, the end of a send) call these; handlers only pass a scope.
import { randomUUID } from 'node:crypto';
import { AuditError, S3CryptError, type S3CryptErrorCode } from '../errors.js';
import { CUSTOMER_KEY_PROVIDER_ID } from '../keyrings/customer-key.js';
import type { EncryptedDataKey, EncryptionContext, KeyringObserver } from '../keyrings/keyring.js';
import { AuditBuffer, type AuditStats, type Enqueued } from './buffer.js';
import { AUDIT_EVENT_SCHEMA, type AuditEvent, type AuditKek, type AuditOperation, type AuditOutcome } from './events.js';
import type { ResolvedAuditOptions } from './options.js';

/** Codes that mean the reader's key policy refused the object (docs/AUDIT.md: `policy` events). */
const POLICY_CODES: ReadonlySet<S3CryptErrorCode> = new Set<S3CryptErrorCode>([
  'ERR_KEY_NOT_ALLOWED',
  'ERR_TOO_MANY_ENCRYPTED_KEYS',
  'ERR_UNSIGNED_OBJECT',
  'ERR_FORMAT_VERSION_NOT_ALLOWED',
  'ERR_SIGNATURE_INVALID',
  'ERR_OBJECT_ID_MISMATCH',
  'ERR_CUSTOMER_KEY_REQUIRED',
  'ERR_CUSTOMER_KEY_NOT_APPLICABLE',
]);

/** Commands whose output names an encrypted object they stored. */
const WRITE_COMMANDS: ReadonlySet<string> = new Set(['PutObject', 'CompleteMultipartUpload', 'CopyObject']);

type EventFields = Omit<AuditEvent, 'schema' | 'time' | 'principal' | 'command' | 'requestId'>;

function reasonOf(error: unknown): S3CryptErrorCode | undefined {
  return error instanceof S3CryptError ? error.code : undefined;
}

function keksOf(edks: readonly EncryptedDataKey[]): AuditKek[] {
  return edks.map(({ providerId, keyId }) => ({ providerId, keyId }));
}

/** The customer key's fingerprint among the KEKs involved (its wrapped key's id; never the key). */
function fingerprintOf(keks: readonly AuditKek[] | undefined): Pick<AuditEvent, 'keyFingerprint'> {
  const keyFingerprint = keks?.find((kek) => kek.providerId === CUSTOMER_KEY_PROVIDER_ID)?.keyId;
  return keyFingerprint === undefined ? {} : { keyFingerprint };
}

/** The object a key event is about: its location and format. */
export type AuditObject = Pick<AuditEvent, 'bucket' | 'key' | 'format' | 'formatVersion'>;

/** Bucket, key and format version, as s3crypt's own entries of the encryption context name them. */
function objectOf(context: EncryptionContext): AuditObject {
  return { bucket: context['s3crypt:bucket'], key: context['s3crypt:key'], formatVersion: Number(context['s3crypt:format']) };
}

/**
 * What the key seam (materials.ts) reports a wrap to. An {@link AuditScope} names the object from
 * s3crypt's encryption context; {@link AuditScope.about} names it for a format whose context does
 * not (the S3 Encryption Client's).
 */
export interface KeyAudit {
  keyWrapped(operation: 'generate' | 'wrap' | 'rewrap', context: EncryptionContext, result: readonly EncryptedDataKey[] | { error: unknown }): Promise<void>;
  cacheObserver(context: EncryptionContext): KeyringObserver;
}

/** Drops absent fields, so events carry only what is known. */
function present<T extends object>(fields: T): T {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as T;
}

/** The access key id the credentials provider of an S3 client yields; never the secret. */
async function accessKeyIdOf(credentials: unknown): Promise<string | undefined> {
  if (typeof credentials !== 'function') return undefined;
  try {
    const identity = (await (credentials as () => Promise<{ accessKeyId?: unknown }>)()) ?? {};
    return typeof identity.accessKeyId === 'string' ? identity.accessKeyId : undefined;
  } catch {
    // Without credentials the store's requests fail on their own; the event simply names no principal.
    return undefined;
  }
}

/** The audit side of one `EncryptingS3Client`: its buffer and how it names the principal. */
export class AuditEmitter {
  readonly #buffer: AuditBuffer;
  readonly #options: ResolvedAuditOptions;
  readonly #credentials: unknown;
  #defaultPrincipal: string | Promise<string | undefined> | undefined;
  #defaultResolved = false;

  constructor(options: ResolvedAuditOptions, credentials: unknown) {
    this.#options = options;
    this.#buffer = new AuditBuffer(options.sink, options.bufferSize, options.whenFull);
    this.#credentials = credentials;
  }

  /** A scope for one `send` of `command`. */
  scope(command: string): AuditScope {
    return new AuditScope(this.#buffer, command, this.#principal());
  }

  stats(): AuditStats {
    return this.#buffer.stats();
  }

  drained(): Promise<void> {
    return this.#buffer.drained();
  }

  /** Delivers what is buffered, then closes the sink. */
  async close(): Promise<void> {
    await this.#buffer.drained();
    await this.#options.sink.close?.();
  }

  #principal(): string | Promise<string | undefined> | undefined {
    const configured = this.#options.principal;
    if (typeof configured === 'string') return configured;
    if (typeof configured === 'function') return configured();
    if (!this.#defaultResolved) {
      this.#defaultResolved = true;
      this.#defaultPrincipal = accessKeyIdOf(this.#credentials).then((id) => (this.#defaultPrincipal = id));
    }
    return this.#defaultPrincipal;
  }
}

/** The events of one `send`: they share its command, request id and principal. */
export class AuditScope {
  readonly requestId = randomUUID();
  readonly #buffer: AuditBuffer;
  readonly #command: string;
  readonly #principal: string | Promise<string | undefined> | undefined;
  /** Fail-closed: the acceptance of every event of this send, awaited before it resolves. */
  readonly #accepted: Promise<void>[] = [];
  readonly #plaintextReads = new Set<string>();

  constructor(buffer: AuditBuffer, command: string, principal: string | Promise<string | undefined> | undefined) {
    this.#buffer = buffer;
    this.#command = command;
    this.#principal = principal;
    // A per-send principal function that fails is an audit failure of this send's events, reported there.
    if (typeof principal === 'object') principal.catch(() => undefined);
  }

  /** Queues one event; resolves when there is room for it (immediately unless the buffer is full). */
  async emit(fields: EventFields): Promise<void> {
    const event = present({
      schema: AUDIT_EVENT_SCHEMA,
      time: new Date().toISOString(),
      operation: fields.operation,
      outcome: fields.outcome,
      reason: fields.reason,
      command: this.#command,
      bucket: fields.bucket,
      key: fields.key,
      versionId: fields.versionId,
      objectId: fields.objectId,
      keks: fields.keks,
      format: fields.format,
      formatVersion: fields.formatVersion,
      requestId: this.requestId,
      keyFingerprint: fields.keyFingerprint,
    }) as AuditEvent;
    const enqueued: Enqueued = this.#buffer.enqueue({ event, principal: this.#principal });
    if (enqueued.accepted) {
      enqueued.accepted.catch(() => undefined);
      this.#accepted.push(enqueued.accepted);
    }
    await enqueued.room;
  }

  /** A data key generated (`dataKey` absent) or wrapped for the object `context` names, or the failure to. */
  async keyWrapped(
    operation: 'generate' | 'wrap' | 'rewrap',
    context: EncryptionContext,
    result: readonly EncryptedDataKey[] | { error: unknown },
    object: AuditObject = objectOf(context),
  ): Promise<void> {
    const outcome = 'error' in result ? { outcome: 'failure' as const, reason: reasonOf(result.error) } : { outcome: 'success' as const, keks: keksOf(result), ...fingerprintOf(keksOf(result)) };
    await this.emit({ operation, ...outcome, ...object });
  }

  /** This scope's key events, naming `object` rather than what the encryption context says. */
  about(object: AuditObject): KeyAudit {
    return {
      keyWrapped: (operation, context, result) => this.keyWrapped(operation, context, result, object),
      cacheObserver: (context) => this.cacheObserver(context, object),
    };
  }

  /**
   * A cached keyring's lookup for the object `context` names: an observer for keyrings (see
   * KeyringObserver), so it cannot wait; the event is queued, and in fail-closed mode its acceptance
   * is awaited with the send's other events.
   */
  cacheObserver(context: EncryptionContext, object: AuditObject = objectOf(context)): KeyringObserver {
    return {
      cacheLookup: (outcome, edk) => {
        void this.emit({ operation: 'cache', outcome, ...object, ...(edk ? { keks: keksOf([edk]) } : {}) });
      },
    };
  }

  /** The audit of reading one object (its unwrap, or the policy's refusal). */
  read(bucket: string, key: string, versionId: string | undefined): ReadAudit {
    return new ReadAudit(this, { bucket, key, versionId });
  }

  /** An object without an envelope, read as plaintext by the caller's selection, or refused. Once per object and send. */
  async plaintextRead(bucket: string, key: string, versionId: string | undefined, error?: unknown): Promise<void> {
    const id = `${bucket}\u0000${key}`;
    if (this.#plaintextReads.has(id)) return;
    this.#plaintextReads.add(id);
    const outcome = error === undefined ? { outcome: 'success' as const } : { outcome: 'refused' as const, reason: reasonOf(error) };
    await this.emit({ operation: 'plaintext-read', ...outcome, bucket, key, versionId });
  }

  /**
   * Ends the send: a write's `store` event (with the object's identity) once `result` resolves, then,
   * in fail-closed mode, waits until the sink accepted every event of the send. A sink failure then
   * fails the send with {@link AuditError} (a read's body is discarded); a send that failed anyway
   * keeps its own error.
   */
  async completing<T>(result: Promise<T>, input: unknown): Promise<T> {
    let output: T;
    try {
      output = await result;
    } catch (error) {
      await Promise.allSettled(this.#accepted);
      throw error;
    }
    const stored = WRITE_COMMANDS.has(this.#command) ? storedObject(input, output) : undefined;
    if (stored) await this.emit(stored);
    try {
      await Promise.all(this.#accepted);
    } catch (cause) {
      (output as { Body?: { destroy?: () => void } } | undefined)?.Body?.destroy?.();
      throw new AuditError(
        stored
          ? 'the audit sink did not accept the events of this write: the object was stored, but its events are not all recorded'
          : 'the audit sink did not accept the events of this operation; nothing was released',
        stored !== undefined,
        { cause },
      );
    }
    return output;
  }
}

/** What a write's output says about the encrypted object it stored. */
function storedObject(input: unknown, output: unknown): EventFields | undefined {
  const { Bucket, Key } = (input ?? {}) as { Bucket?: string; Key?: string };
  const { S3Crypt: info, VersionId } = (output ?? {}) as { S3Crypt?: { encrypted?: boolean; objectId?: string; format?: 's3ec'; formatVersion?: number }; VersionId?: string };
  if (!info?.encrypted) return undefined;
  return { operation: 'store', outcome: 'success', bucket: Bucket, key: Key, versionId: VersionId, objectId: info.objectId, format: info.format, formatVersion: info.formatVersion };
}

/**
 * The audit of one encrypted object's read: one event, emitted when its outcome is known. `unwrap`
 * success waits for the object's authenticated identity; a policy code ends it as a `policy`
 * refusal; any other failure as an `unwrap` failure, naming the KEK(s) involved so far.
 */
export class ReadAudit {
  readonly #scope: AuditScope;
  readonly #object: { bucket: string; key: string; versionId: string | undefined };
  #format: AuditObject['format'];
  #formatVersion: number | undefined;
  #keks: AuditKek[] | undefined;
  #done = false;

  constructor(scope: AuditScope, object: { bucket: string; key: string; versionId: string | undefined }) {
    this.#scope = scope;
    this.#object = object;
  }

  /** The envelope's format version, once parsed (`format`: `s3ec` for an S3 Encryption Client object). */
  envelope(formatVersion: number, format?: 's3ec'): void {
    this.#formatVersion = formatVersion;
    this.#format = format;
  }

  /** As {@link AuditScope.cacheObserver}, for this read's unwraps: the events name this read's object. */
  cacheObserver(context: EncryptionContext): KeyringObserver {
    const { bucket, key } = this.#object;
    return this.#scope.cacheObserver(context, { bucket, key, format: this.#format, formatVersion: this.#formatVersion });
  }

  /** The wrapped keys tried, or the one that unwrapped. */
  keks(edks: readonly EncryptedDataKey[]): void {
    this.#keks = keksOf(edks);
  }

  /** The object authenticated as `objectId` (formats without an identity: none): the unwrap succeeded. */
  async authenticated(objectId?: string): Promise<void> {
    await this.#end({ operation: 'unwrap', outcome: 'success', ...(objectId !== undefined ? { objectId } : {}) });
  }

  /** The read failed or was refused with `error`; only the first outcome of a read is recorded. */
  async failed(error: unknown): Promise<void> {
    const reason = reasonOf(error);
    const refused = reason !== undefined && POLICY_CODES.has(reason);
    await this.#end({ operation: refused ? 'policy' : 'unwrap', outcome: refused ? 'refused' : 'failure', reason });
  }

  async #end(fields: { operation: AuditOperation; outcome: AuditOutcome; reason?: S3CryptErrorCode | undefined; objectId?: string }): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#scope.emit({ ...fields, ...this.#object, keks: this.#keks, ...fingerprintOf(this.#keks), format: this.#format, formatVersion: this.#formatVersion });
  }
}
