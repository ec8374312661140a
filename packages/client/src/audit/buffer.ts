// The bounded buffer between the operations that emit audit events and the sink that records them.
// Operations only enqueue; one drain loop hands events to the sink in emission order, off the data
// path. What happens when the buffer is full is the caller's choice (AuditOptions.whenFull).
import type { AuditEvent, AuditSink } from './events.js';

/** What an emitting operation does when the buffer is full, and whether it waits for the sink. */
export type AuditDelivery = 'block' | 'drop' | 'fail-closed';

/**
 * Counters of an audit buffer, read with `EncryptingS3Client.auditStats()`.
 *
 * @example
 * ```ts
 * const { dropped, failed } = client.auditStats()!;
 * if (dropped + failed > 0) alert('audit events were lost');
 * ```
 */
export interface AuditStats {
  /** Events operations emitted (including those dropped). */
  readonly emitted: number;
  /** Events the sink accepted. */
  readonly written: number;
  /** Events dropped because the buffer was full (`whenFull: 'drop'` only). */
  readonly dropped: number;
  /** Events the sink failed to accept (its `write` threw or rejected), or whose principal could not be resolved. */
  readonly failed: number;
  /** Events emitted and not yet accepted or failed. */
  readonly pending: number;
}

/** An event whose principal may still be resolving. */
export type PendingEvent = { readonly event: AuditEvent; readonly principal: string | Promise<string | undefined> | undefined };

interface Entry {
  readonly pending: PendingEvent;
  readonly accepted: Deferred | undefined;
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** What enqueueing gave back: wait for `room` (a full buffer), and in fail-closed mode for `accepted`. */
export interface Enqueued {
  readonly room?: Promise<void>;
  readonly accepted?: Promise<void>;
}

/** A bounded FIFO of audit events drained to one sink. `capacity` counts events not yet accepted. */
export class AuditBuffer {
  readonly #sink: AuditSink;
  readonly #capacity: number;
  readonly #delivery: AuditDelivery;
  readonly #queue: Entry[] = [];
  readonly #roomWaiters: (() => void)[] = [];
  #unaccepted = 0;
  #draining: Promise<void> | undefined;
  #stats = { emitted: 0, written: 0, dropped: 0, failed: 0 };

  constructor(sink: AuditSink, capacity: number, delivery: AuditDelivery) {
    this.#sink = sink;
    this.#capacity = capacity;
    this.#delivery = delivery;
  }

  get delivery(): AuditDelivery {
    return this.#delivery;
  }

  stats(): AuditStats {
    return { ...this.#stats, pending: this.#unaccepted };
  }

  /** Queues an event; never throws. A full buffer drops it (`drop`) or makes the caller wait for room. */
  enqueue(pending: PendingEvent): Enqueued {
    this.#stats.emitted++;
    if (this.#unaccepted < this.#capacity && this.#roomWaiters.length === 0) return this.#push(pending);
    if (this.#delivery === 'drop') {
      this.#stats.dropped++;
      return {};
    }
    // Waiters are served in order, so a burst cannot starve an operation that was waiting first.
    let accepted: Promise<void> | undefined;
    const room = new Promise<void>((resolve) => {
      this.#roomWaiters.push(() => {
        accepted = this.#push(pending).accepted;
        resolve();
      });
    });
    if (this.#delivery !== 'fail-closed') return { room };
    const afterRoom = room.then(() => accepted);
    return { room, accepted: afterRoom };
  }

  /** Resolves once every event enqueued so far has been accepted or has failed. */
  async drained(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  #push(pending: PendingEvent): Enqueued {
    this.#unaccepted++;
    const accepted = this.#delivery === 'fail-closed' ? deferred() : undefined;
    this.#queue.push({ pending, accepted });
    if (!this.#draining) this.#startDrain();
    return accepted ? { accepted: accepted.promise } : {};
  }

  #startDrain(): void {
    this.#draining = this.#drain().finally(() => {
      this.#draining = undefined;
      if (this.#queue.length > 0) this.#startDrain();
    });
  }

  async #drain(): Promise<void> {
    // Let the operation that enqueued continue first: the sink runs after the current turn.
    await Promise.resolve();
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#queue.length);
      const principals = await Promise.all(batch.map(async ({ pending }) => principalOf(pending)));
      // Every write of a batch is started in order before any is awaited, so a sink can commit
      // them together (one fsync for many events) and sees them in emission order.
      await Promise.all(batch.map((entry, index) => this.#deliver(entry, principals[index]!)));
    }
  }

  async #deliver(entry: Entry, principal: Principal): Promise<void> {
    try {
      if ('error' in principal) throw principal.error;
      const { event } = entry.pending;
      await this.#sink.write(principal.value === undefined ? event : { ...event, principal: principal.value });
      this.#stats.written++;
      entry.accepted?.resolve();
    } catch (error) {
      this.#stats.failed++;
      entry.accepted?.reject(error);
    } finally {
      this.#unaccepted--;
      this.#roomWaiters.shift()?.();
    }
  }
}

type Principal = { readonly value: string | undefined } | { readonly error: unknown };

async function principalOf(pending: PendingEvent): Promise<Principal> {
  try {
    return { value: await pending.principal };
  } catch (error) {
    return { error };
  }
}
