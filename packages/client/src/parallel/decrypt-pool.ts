// Worker threads that open sealed ranges off the caller's thread, so a parallel read's decryption
// runs on the spare cores while the JavaScript thread moves bytes. With no workers the same function
// runs inline. Ciphertext is transferred to the worker and plaintext back, never copied by the
// messaging; part keys are cloned into the worker and zeroed there after each range.
import * as crypto from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { openSealedRange, type OpenedRange, type SealedRange } from '../format/open-range.js';

// The worker's program: openSealedRange's own source (it is self-contained by contract), so ESM,
// CommonJS and test runners all ship it without a separate file to resolve.
const WORKER_SOURCE = `
const crypto = process.getBuiltinModule('node:crypto');
const { parentPort } = process.getBuiltinModule('node:worker_threads');
const openSealedRange = ${openSealedRange.toString()};
parentPort.on('message', ({ id, range }) => {
  let result;
  try {
    result = openSealedRange(crypto, range);
  } catch {
    result = { ok: false, segment: -1, reason: 'length' };
  } finally {
    for (const key of Object.values(range.keys)) key.fill(0);
  }
  // The plaintext goes back without a copy, and the ciphertext buffer too, for the next range.
  const buffers = new Set([range.sealed.buffer, ...(result.ok ? result.plaintext.map((piece) => piece.buffer) : [])]);
  try {
    parentPort.postMessage({ id, result, sealed: range.sealed }, [...buffers]);
  } catch {
    parentPort.postMessage({ id, result, sealed: undefined });
  }
});
`;

/** An opened range, and its ciphertext buffer back for reuse when it could be handed over and back. */
export interface PoolResult {
  readonly result: OpenedRange;
  readonly sealed: Buffer | undefined;
}

interface Pending {
  readonly resolve: (result: PoolResult) => void;
  readonly reject: (error: Error) => void;
}

const asBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

class PoolWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();

  constructor(onExit: (worker: PoolWorker) => void) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    this.worker.unref();
    this.worker.on('message', ({ id, result, sealed }: { id: number; result: OpenedRange; sealed: Uint8Array | undefined }) => {
      const pending = this.pending.get(id);
      this.pending.delete(id);
      if (this.pending.size === 0) this.worker.unref();
      // Transferred buffers arrive as Uint8Arrays; the callers want Buffers over the same memory.
      pending?.resolve({ result: result.ok ? { ok: true, plaintext: result.plaintext.map(asBuffer) } : result, sealed: sealed && asBuffer(sealed) });
    });
    const fail = (error: Error) => {
      for (const pending of this.pending.values()) pending.reject(error);
      this.pending.clear();
      onExit(this);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`a decryption worker exited (code ${code})`)));
  }
}

let jobIds = 0;

/**
 * Opens sealed ranges on up to `size` worker threads, started on first use; `size` 0 opens them
 * inline. Idle workers do not keep the process alive; `destroy()` ends them.
 */
export class DecryptPool {
  readonly #workers: PoolWorker[] = [];
  #destroyed = false;

  constructor(readonly size: number) {}

  /**
   * Opens `range`. With `handOver`, the whole ArrayBuffer under `range.sealed` is transferred to the
   * worker (unusable here until it comes back with the result, as `sealed`); without, it is copied.
   * The caller keeps and zeroes its keys.
   */
  open(range: SealedRange, handOver = false): Promise<PoolResult> {
    if (this.#destroyed) return Promise.reject(new Error('the client was destroyed'));
    if (this.size === 0) return Promise.resolve({ result: openSealedRange(crypto, range), sealed: Buffer.isBuffer(range.sealed) ? range.sealed : undefined });
    const worker = this.#leastBusy();
    const id = ++jobIds;
    return new Promise<PoolResult>((resolve, reject) => {
      worker.pending.set(id, { resolve, reject });
      // Referenced while it has work: an unfinished read must keep the process alive.
      worker.worker.ref();
      try {
        worker.worker.postMessage({ id, range }, handOver ? [range.sealed.buffer as ArrayBuffer] : []);
      } catch {
        // Node's shared buffer pool cannot be handed over (DataCloneError): copy it instead.
        worker.worker.postMessage({ id, range });
      }
    });
  }

  #leastBusy(): PoolWorker {
    if (this.#workers.length < this.size) {
      const worker = new PoolWorker((gone) => {
        const index = this.#workers.indexOf(gone);
        if (index >= 0) this.#workers.splice(index, 1);
      });
      this.#workers.push(worker);
      return worker;
    }
    return this.#workers.reduce((best, worker) => (worker.pending.size < best.pending.size ? worker : best));
  }

  /** Ends the workers; ranges still being opened fail. */
  destroy(): void {
    this.#destroyed = true;
    for (const worker of this.#workers.splice(0)) void worker.worker.terminate();
  }
}
