// The hash-chained, checkpointed log as an AuditSink: one serial chain, group commit (every batch of
// concurrent writes is one durable write), periodic signed checkpoints, rotation, and
// sealed segments copied to a bucket in the background.
import type { FileHandle } from 'node:fs/promises';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { AuditEvent, AuditSink } from '@s3crypt/client';
import { canonicalJson } from './canonical-json.js';
import { checkpointAlgorithm, checkpointKeyFingerprint, privateKeyObject, signCheckpoint, type KeyInput } from './checkpoint-key.js';
import { AuditLogError } from './errors.js';
import { writeSegmentObject, type BucketLocation } from './bucket-segments.js';
import { recoverChain } from './recover-chain.js';
import { appendDurably, createSegmentFile, listSegmentFiles, readSegmentFile, syncDirectory } from './segment-directory.js';
import { AUDIT_LOG_FORMAT, checkpointSignedBytes, lineHash, parseSegmentName, segmentName, type TornTail } from './record.js';

/**
 * Options of {@link TamperEvidentLog.open}.
 *
 * @example
 * ```ts
 * const options: TamperEvidentLogOptions = { directory: '/var/log/s3crypt-audit', signingKey: readFileSync('audit-key.pem', 'utf8') };
 * ```
 */
export interface TamperEvidentLogOptions {
  /** Where segment files are written (the current one always; sealed ones too unless `bucket` is set). Must exist. */
  readonly directory: string;
  /** The operator's checkpoint signing key: Ed25519 (recommended) or ECDSA P-384, as PEM or `KeyObject`. */
  readonly signingKey: KeyInput;
  /** If set, every sealed segment is stored as an encrypted object there and then removed from `directory`. */
  readonly bucket?: BucketLocation;
  /** A checkpoint after this many records. Default 1000. */
  readonly checkpointEveryRecords?: number;
  /** A checkpoint this often while records arrive (ms). Default 60 000. */
  readonly checkpointIntervalMs?: number;
  /** Seal the segment and start a new one once it reaches this size (bytes). Default 16 MiB. */
  readonly maxSegmentBytes?: number;
  /** Seal the segment and start a new one once it is this old (ms), checked at each checkpoint tick. Default 1 hour. */
  readonly maxSegmentAgeMs?: number;
}

interface PendingWrite {
  readonly line: string;
  resolve(): void;
  reject(error: unknown): void;
}

interface OpenSegment {
  readonly name: string;
  readonly handle: FileHandle;
  readonly openedAt: number;
  bytes: number;
}

/**
 * A tamper-evident audit log: an {@link AuditSink} that appends every event to a hash chain of JSON Lines
 * records, with signed checkpoints, in segment files and optionally encrypted objects in a bucket
 * (docs/AUDIT.md). `write` resolves once the event's record is written and fsynced; concurrent writes
 * share one durable write. Verify the log with {@link verifyAuditLog}.
 *
 * @example
 * ```ts
 * const { privateKey, publicKey } = generateKeyPairSync('ed25519');
 * const log = await TamperEvidentLog.open({ directory: './audit', signingKey: privateKey });
 * await log.write({ schema: 1, time: new Date().toISOString(), operation: 'generate', outcome: 'success' });
 * await log.close();
 * const report = await verifyAuditLog({ directory: './audit', publicKey });
 * ```
 */
export class TamperEvidentLog implements AuditSink {
  readonly #options: Required<Omit<TamperEvidentLogOptions, 'bucket' | 'signingKey'>> & { bucket?: BucketLocation };
  readonly #signingKey: KeyObject;
  readonly #keyFingerprint: string;
  #seq: number;
  #head: string;
  #lastCheckpoint: string | null;
  #sinceCheckpoint: number;
  #segment!: OpenSegment;
  #pending: PendingWrite[] = [];
  #flushQueued = false;
  #queue: Promise<void> = Promise.resolve();
  #uploads: Promise<void> = Promise.resolve();
  #uploadError: unknown;
  #failure: AuditLogError | undefined;
  #closed: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  private constructor(options: TamperEvidentLogOptions, signingKey: KeyObject, position: Awaited<ReturnType<typeof recoverChain>>) {
    this.#options = {
      directory: options.directory,
      checkpointEveryRecords: options.checkpointEveryRecords ?? 1000,
      checkpointIntervalMs: options.checkpointIntervalMs ?? 60_000,
      maxSegmentBytes: options.maxSegmentBytes ?? 16 * 1024 * 1024,
      maxSegmentAgeMs: options.maxSegmentAgeMs ?? 3_600_000,
      ...(options.bucket ? { bucket: options.bucket } : {}),
    };
    this.#signingKey = signingKey;
    this.#keyFingerprint = checkpointKeyFingerprint(signingKey);
    this.#seq = position.seq;
    this.#head = position.head;
    this.#lastCheckpoint = position.lastCheckpoint;
    this.#sinceCheckpoint = position.sinceCheckpoint;
  }

  /**
   * Opens the log in `options.directory`: recovers the chain's position from the newest segment (local,
   * else in the bucket), uploads sealed segments a previous process left behind, and starts a new segment
   * whose header commits to the last complete record (and records a torn tail, if the newest segment
   * has one). Rejects with `ERR_AUDIT_LOG_CORRUPT` if the newest segment holds a malformed complete line.
   *
   * @example
   * ```ts
   * const log = await TamperEvidentLog.open({ directory: './audit', signingKey: privateKey, bucket: { client: s3, bucket: 'audit' } });
   * ```
   */
  static async open(options: TamperEvidentLogOptions): Promise<TamperEvidentLog> {
    const signingKey = privateKeyObject(options.signingKey);
    const position = await recoverChain(options.directory, options.bucket);
    const log = new TamperEvidentLog(options, signingKey, position);
    await log.#startSegment(position.lastSegment, position.torn);
    log.#scheduleUpload();
    log.#timer = setInterval(() => log.#tick(), log.#options.checkpointIntervalMs);
    log.#timer.unref();
    return log;
  }

  /**
   * Appends `event` to the chain. Resolves once its record is durable (written and fsynced); rejects
   * with `ERR_AUDIT_LOG_CLOSED` after `close`, with `ERR_AUDIT_LOG_FAILED` once a write has failed, and
   * with a `TypeError` for a value JSON cannot hold.
   *
   * @example
   * ```ts
   * await log.write({ schema: 1, time: new Date().toISOString(), operation: 'unwrap', outcome: 'success', bucket: 'b', key: 'k' });
   * ```
   */
  write(event: AuditEvent): Promise<void> {
    if (this.#closed) return Promise.reject(new AuditLogError('ERR_AUDIT_LOG_CLOSED', 'the audit log is closed'));
    if (this.#failure) return Promise.reject(this.#failure);
    if (typeof event !== 'object' || event === null || Array.isArray(event)) return Promise.reject(new TypeError('an audit event is an object'));
    let line: string;
    try {
      line = canonicalJson(event);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ line, resolve, reject });
      if (!this.#flushQueued) {
        this.#flushQueued = true;
        void this.#enqueue(() => this.#flushPending());
      }
    });
  }

  /**
   * Waits for pending writes, signs a final checkpoint, seals the segment, and (with a bucket) stores
   * every sealed segment there. Idempotent. Rejects with `ERR_AUDIT_LOG_UPLOAD_FAILED` if a segment could
   * not be stored (it stays in the directory and is stored by the next `open`).
   *
   * @example
   * ```ts
   * process.on('SIGTERM', () => void log.close().finally(() => process.exit(0)));
   * ```
   */
  close(): Promise<void> {
    this.#closed ??= this.#closeOnce();
    return this.#closed;
  }

  async #closeOnce(): Promise<void> {
    clearInterval(this.#timer);
    await this.#enqueue(async () => {
      if (!this.#failure) await this.#seal();
      else await this.#segment.handle.close().catch(() => undefined);
    });
    if (this.#failure) throw this.#failure;
    this.#scheduleUpload(true);
    await this.#uploads;
    if (this.#uploadError !== undefined) {
      throw new AuditLogError('ERR_AUDIT_LOG_UPLOAD_FAILED', 'sealed audit log segments could not be stored in the bucket', { cause: this.#uploadError });
    }
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #flushPending(): Promise<void> {
    this.#flushQueued = false;
    const batch = this.#pending.splice(0);
    if (this.#failure) {
      for (const write of batch) write.reject(this.#failure);
      return;
    }
    try {
      const lines: string[] = [];
      for (const write of batch) {
        // Canonical field order is event, prev, seq, v: the event's canonical text is spliced in as is.
        lines.push(this.#nextLine((seq, prev) => `{"event":${write.line},"prev":"${prev}","seq":${seq},"v":${AUDIT_LOG_FORMAT}}`));
        if (this.#sinceCheckpoint >= this.#options.checkpointEveryRecords) lines.push(this.#checkpointLine());
      }
      await this.#commit(lines);
      if (this.#segment.bytes >= this.#options.maxSegmentBytes) await this.#rotate();
    } catch (error) {
      this.#fail(error);
      for (const write of batch) write.reject(this.#failure);
      return;
    }
    for (const write of batch) write.resolve();
  }

  #tick(): void {
    void this.#enqueue(async () => {
      if (this.#failure || this.#closed) return;
      try {
        if (Date.now() - this.#segment.openedAt >= this.#options.maxSegmentAgeMs && this.#recordsInSegment() > 1) await this.#rotate();
        else if (this.#sinceCheckpoint > 0) await this.#commit([this.#checkpointLine()]);
      } catch (error) {
        this.#fail(error);
      }
    });
  }

  #recordsInSegment(): number {
    return this.#seq - (parseSegmentName(this.#segment.name)?.firstSeq ?? this.#seq) + 1;
  }

  #fail(error: unknown): void {
    this.#failure ??=
      error instanceof AuditLogError ? error : new AuditLogError('ERR_AUDIT_LOG_FAILED', 'writing the audit log failed; reopen it to continue the chain', { cause: error });
  }

  /** The next record's line, from its text given the record's seq and prev; advances the chain. */
  #nextLine(text: (seq: number, prev: string) => string): string {
    const line = text(this.#seq + 1, this.#head);
    this.#seq += 1;
    this.#head = lineHash(line);
    this.#sinceCheckpoint += 1;
    return line;
  }

  #checkpointLine(): string {
    const unsigned = {
      v: AUDIT_LOG_FORMAT,
      seq: this.#seq + 1,
      prev: this.#head,
      checkpoint: { alg: checkpointAlgorithm(this.#signingKey), key: this.#keyFingerprint, previous: this.#lastCheckpoint, time: new Date().toISOString() },
    } as const;
    const sig = signCheckpoint(this.#signingKey, checkpointSignedBytes(unsigned));
    const text = canonicalJson({ ...unsigned, sig });
    this.#seq += 1;
    this.#head = lineHash(text);
    this.#lastCheckpoint = this.#head;
    this.#sinceCheckpoint = 0;
    return text;
  }

  async #commit(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    const bytes = Buffer.from(`${lines.join('\n')}\n`);
    await appendDurably(this.#segment.handle, bytes);
    this.#segment.bytes += bytes.length;
  }

  async #startSegment(previous: string | null, torn?: TornTail): Promise<void> {
    const firstSeq = this.#seq + 1;
    const last = previous ? parseSegmentName(previous) : undefined;
    const name = segmentName(firstSeq, last?.firstSeq === firstSeq ? last.attempt + 1 : 0);
    const header = this.#nextLine((seq, prev) => canonicalJson({ v: AUDIT_LOG_FORMAT, seq, prev, segment: { name, previous, torn } }));
    const bytes = Buffer.from(`${header}\n`);
    const handle = await createSegmentFile(this.#options.directory, name, bytes);
    this.#segment = { name, handle, openedAt: Date.now(), bytes: bytes.length };
  }

  async #seal(): Promise<void> {
    if (this.#sinceCheckpoint > 0) await this.#commit([this.#checkpointLine()]);
    await this.#segment.handle.close();
  }

  async #rotate(): Promise<void> {
    await this.#seal();
    await this.#startSegment(this.#segment.name);
    this.#scheduleUpload();
  }

  /** Stores sealed segments (all but the open one, or all once closed) in the bucket, oldest first, off the write path. */
  #scheduleUpload(includeCurrent = false): void {
    const bucket = this.#options.bucket;
    if (!bucket) return;
    const current = includeCurrent ? undefined : this.#segment.name;
    this.#uploads = this.#uploads.then(async () => {
      try {
        const directory = this.#options.directory;
        for (const name of await listSegmentFiles(directory)) {
          if (name === current) continue;
          await writeSegmentObject(bucket, name, await readSegmentFile(directory, name));
          await unlink(join(directory, name));
        }
        await syncDirectory(directory);
        this.#uploadError = undefined;
      } catch (error) {
        this.#uploadError = error;
      }
    });
  }
}
