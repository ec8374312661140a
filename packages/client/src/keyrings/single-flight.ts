// Concurrent requests for the same thing share one underlying call. Used by the caching keyring so
// that ten readers of one cold object cost one KMS call instead of ten.

/**
 * How a call's result reaches its waiters. Both run synchronously when the call resolves, so nothing
 * else can run between the waiters getting their shares and `settle`.
 */
export interface FlightHandlers<T, R> {
  /** What one waiter receives: called once for each waiter still waiting (e.g. its own copy of a key). */
  share(value: T): R;
  /**
   * Called once after the shares were handed out, with how many waiters got one. `0` means every
   * waiter left (aborted) before the call resolved: the value was wanted by no one.
   */
  settle(key: string, value: T, waiters: number): void;
}

interface Waiter<R> {
  resolve(value: R): void;
  reject(error: unknown): void;
}

interface Flight<R> {
  readonly controller: AbortController;
  readonly waiters: Set<Waiter<R>>;
}

/**
 * One call per key at a time, whatever the number of concurrent callers.
 *
 * Aborts: a waiter's `signal` ends only that waiter's wait (it rejects at once with the signal's
 * reason); the call goes on for the others. The call gets a signal of its own, aborted only once
 * every waiter has left, so a call nobody waits for any more stops too. A caller without a signal
 * keeps the call alive. A failed call fails every waiter with the same error and leaves nothing
 * behind: the next caller starts afresh.
 */
export class SingleFlight<T, R> {
  readonly #flights = new Map<string, Flight<R>>();
  readonly #handlers: FlightHandlers<T, R>;

  constructor(handlers: FlightHandlers<T, R>) {
    this.#handlers = handlers;
  }

  /** Whether a call for `key` is under way, so that a caller would share it. */
  has(key: string): boolean {
    return this.#flights.has(key);
  }

  /** Calls under way. */
  get size(): number {
    return this.#flights.size;
  }

  /** Waits for the call under way for `key`, or starts one with `start`. */
  run(key: string, signal: AbortSignal | undefined, start: (signal: AbortSignal) => Promise<T>): Promise<R> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const flight = this.#flights.get(key) ?? this.#launch(key, start);
    return this.#wait(key, flight, signal);
  }

  #launch(key: string, start: (signal: AbortSignal) => Promise<T>): Flight<R> {
    const flight: Flight<R> = { controller: new AbortController(), waiters: new Set() };
    this.#flights.set(key, flight);
    let call: Promise<T>;
    try {
      call = start(flight.controller.signal);
    } catch (error) {
      call = Promise.reject(error);
    }
    call.then(
      (value) => {
        this.#land(key, flight);
        const waiters = [...flight.waiters];
        flight.waiters.clear();
        for (const waiter of waiters) waiter.resolve(this.#handlers.share(value));
        this.#handlers.settle(key, value, waiters.length);
      },
      (error: unknown) => {
        this.#land(key, flight);
        const waiters = [...flight.waiters];
        flight.waiters.clear();
        for (const waiter of waiters) waiter.reject(error);
      },
    );
    return flight;
  }

  /** Forgets `flight` unless a newer call for the same key has replaced it (after an abandoned one). */
  #land(key: string, flight: Flight<R>): void {
    if (this.#flights.get(key) === flight) this.#flights.delete(key);
  }

  #wait(key: string, flight: Flight<R>, signal: AbortSignal | undefined): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const onAbort = (): void => {
        flight.waiters.delete(waiter);
        reject(signal?.reason);
        if (flight.waiters.size === 0) {
          // Nobody wants the answer any more: forget the call (a new caller starts a fresh one rather
          // than joining a call that is being cancelled) and cancel it.
          this.#land(key, flight);
          flight.controller.abort(signal?.reason);
        }
      };
      const waiter: Waiter<R> = {
        resolve: (value) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(value);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      flight.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
