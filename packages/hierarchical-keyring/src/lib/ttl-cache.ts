// A small cache of values that expire: bounded (least recently used goes first), every value
// disposed of (a branch key zeroed) the moment it leaves, and concurrent misses for one key
// coalesced into a single load. A value is only ever used synchronously right after it is looked
// up or loaded, so disposing of it at once can never pull it from under a user.

export interface CacheEntry<V> {
  readonly value: V;
  readonly expiresAt: number;
  /** False once the entry left the cache and its value was disposed of: the value must not be used. */
  live: boolean;
}

export interface TtlCacheOptions<V> {
  readonly ttlMs: number;
  readonly maxEntries: number;
  readonly dispose: (value: V) => void;
  /** The clock, in milliseconds. Default `Date.now`. */
  readonly now?: () => number;
}

export class TtlCache<K, V> {
  readonly #entries = new Map<K, CacheEntry<V>>();
  readonly #flights = new Map<K, Promise<CacheEntry<V>>>();
  readonly #options: TtlCacheOptions<V>;
  readonly #now: () => number;
  #generation = 0;

  constructor(options: TtlCacheOptions<V>) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The live, unexpired entry for `key` (now the most recently used), or `undefined`. */
  peek(key: K): CacheEntry<V> | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    if (this.#now() >= entry.expiresAt) {
      this.#retire(entry);
      return undefined;
    }
    this.#entries.set(key, entry);
    return entry;
  }

  /**
   * Loads `key` with `loader`, or joins the load already under way. The entry it resolves may have
   * left the cache by the time the caller runs (`live` false, value disposed of): load again then.
   * A load that `flush` overtook is disposed of, never cached.
   */
  load(key: K, loader: () => Promise<V>): Promise<CacheEntry<V>> {
    const pending = this.#flights.get(key);
    if (pending) return pending;
    const generation = this.#generation;
    const flight: Promise<CacheEntry<V>> = (async () => {
      const value = await loader();
      const entry: CacheEntry<V> = { value, expiresAt: this.#now() + this.#options.ttlMs, live: true };
      if (generation === this.#generation) this.#insert(key, entry);
      else this.#retire(entry);
      return entry;
    })().finally(() => {
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
    });
    this.#flights.set(key, flight);
    return flight;
  }

  /** Disposes of every entry now; loads under way are disposed of when they finish. */
  flush(): void {
    this.#generation++;
    this.#flights.clear();
    for (const entry of this.#entries.values()) this.#retire(entry);
    this.#entries.clear();
  }

  #insert(key: K, entry: CacheEntry<V>): void {
    const previous = this.#entries.get(key);
    if (previous) {
      this.#entries.delete(key);
      this.#retire(previous);
    }
    this.#entries.set(key, entry);
    for (const [oldestKey, oldest] of this.#entries) {
      if (this.#entries.size <= this.#options.maxEntries) break;
      this.#entries.delete(oldestKey);
      this.#retire(oldest);
    }
  }

  #retire(entry: CacheEntry<V>): void {
    if (!entry.live) return;
    entry.live = false;
    this.#options.dispose(entry.value);
  }
}
