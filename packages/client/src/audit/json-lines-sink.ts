// Audit events as JSON Lines, one event per line, appended to a file (fsynced) or written to a stream.
// Events handed over together are committed together: one durable write for a batch.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { AuditEvent, AuditSink } from './events.js';

// Where the platform has O_DSYNC, each write returns only once its data (and the file size) is on
// stable storage: one system call and one trip to the thread pool per batch instead of a write and
// an fdatasync, which is most of a fail-closed operation's audit latency. Elsewhere, fdatasync.
const SYNCHRONOUS_WRITES = typeof constants.O_DSYNC === 'number';
const DURABLE_APPEND = SYNCHRONOUS_WRITES ? constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC : 'a';

/**
 * Where a {@link JsonLinesSink} writes: a file it appends to (created with mode 0600 if missing), or
 * a stream the application owns.
 *
 * @example
 * ```ts
 * const toFile: JsonLinesSinkOptions = { path: '/var/log/s3crypt/audit.jsonl' };
 * const toStdout: JsonLinesSinkOptions = { stream: process.stdout };
 * ```
 */
export type JsonLinesSinkOptions =
  | {
      readonly path: string;
      /** Flush each batch to the disk (fdatasync) before it counts as written. Default true. */
      readonly fsync?: boolean;
    }
  | { readonly stream: Writable };

interface Batch {
  readonly lines: string[];
  readonly committed: Promise<void>;
}

/**
 * A sink that writes every event as one line of JSON. With a `path`, an event is accepted once its
 * line is appended and (by default) fsynced, so in fail-closed mode it is on disk when the operation
 * resolves; with a `stream`, once the stream's `write` callback reports it handled.
 * `close()` closes the file; a stream is left open (it is the application's).
 *
 * @example
 * ```ts
 * const client = new EncryptingS3Client({ client: s3, keyring, audit: { sink: new JsonLinesSink({ path: 'audit.jsonl' }), whenFull: 'fail-closed' } });
 * ```
 */
export class JsonLinesSink implements AuditSink {
  readonly #options: JsonLinesSinkOptions;
  #file: Promise<FileHandle> | undefined;
  /** The batch still taking lines: it starts committing when the batch before it has. */
  #open: Batch | undefined;
  #tail: Promise<void> = Promise.resolve();

  constructor(options: JsonLinesSinkOptions) {
    const valid = 'path' in options ? typeof options.path === 'string' && options.path.length > 0 : typeof options?.stream?.write === 'function';
    if (!valid) throw new TypeError('JsonLinesSink: give { path } or { stream }');
    this.#options = options;
  }

  /** Resolves when the event's line is written (and fsynced, for a file). */
  write(event: AuditEvent): Promise<void> {
    const line = `${JSON.stringify(event)}\n`;
    const batch = this.#open ?? this.#newBatch();
    batch.lines.push(line);
    return batch.committed;
  }

  /** Waits for every line written so far, then closes the file (a stream stays open). */
  async close(): Promise<void> {
    await this.#tail;
    const file = this.#file;
    this.#file = undefined;
    if (file) await (await file).close();
  }

  #newBatch(): Batch {
    const lines: string[] = [];
    const committed = this.#tail.then(() => {
      this.#open = undefined;
      return this.#commit(lines.join(''));
    });
    const batch = { lines, committed };
    this.#open = batch;
    this.#tail = committed.catch(() => undefined);
    return batch;
  }

  async #commit(text: string): Promise<void> {
    if ('stream' in this.#options) return writeToStream(this.#options.stream, text);
    const durable = this.#options.fsync !== false;
    this.#file ??= open(this.#options.path, durable ? DURABLE_APPEND : 'a', 0o600);
    let file: FileHandle;
    try {
      file = await this.#file;
    } catch (error) {
      this.#file = undefined; // the next batch tries again
      throw error;
    }
    await file.appendFile(text);
    if (durable && !SYNCHRONOUS_WRITES) await file.datasync();
  }
}

function writeToStream(stream: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(text, (error) => (error ? reject(error) : resolve()));
  });
}
