// The store behind the caching keyring: a bounded map of plaintext data keys that owns every key it
// holds and zeroes it the moment the entry goes, whatever the reason.
import type { EncryptedDataKey } from './keyring.js';

/** Longest delay a timer can have (2^31 − 1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;

interface Entry {
  readonly dataKey: Uint8Array;
  readonly encryptedDataKeys: readonly EncryptedDataKey[] | undefined;
  readonly expiresAt: number;
  readonly maxUses: number;
  uses: number;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** How long an entry may live and how often it may be handed out. */
export interface EntryLimits {
  /** Milliseconds from storage, 1 … {@link MAX_TIMER_MS}. Uses do not extend it. */
  readonly maxAgeMs: number;
  /** Copies handed out before the entry is dropped (`Infinity`: no limit). */
  readonly maxUses: number;
}

/** What a cache hit hands out: a fresh copy of the key (the caller zeroes it) and, for writes, its wrapped copies. */
export interface CachedKey {
  readonly dataKey: Uint8Array;
  readonly encryptedDataKeys: readonly EncryptedDataKey[] | undefined;
}

/** A cache must not keep the process alive: Node and Bun timers have `unref()`, Deno's are numbers. */
function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  if (typeof timer === 'number') (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno?.unrefTimer?.(timer);
  else (timer as { unref?: () => void }).unref?.();
}

/** A fresh copy the caller owns: never a view of the stored key, never from Node's shared buffer pool. */
export function copyKey(key: Uint8Array): Buffer {
  const copy = Buffer.alloc(key.length);
  copy.set(key);
  return copy;
}

function copyEncryptedDataKeys(edks: readonly EncryptedDataKey[]): EncryptedDataKey[] {
  return edks.map(({ providerId, keyId, ciphertext }) => ({ providerId, keyId, ciphertext: new Uint8Array(ciphertext) }));
}

/**
 * Least-recently-used map of data keys with a maximum size, a maximum age (a timer drops and zeroes
 * each entry when it runs out, even if nobody asks for it again) and a maximum number of uses.
 */
export class KeyCache {
  // A Map iterates in insertion order; an entry used again is re-inserted, so the first is the least recently used.
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  #evictions = 0;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Entries dropped for capacity, age or uses (not by {@link clear}). */
  get evictions(): number {
    return this.#evictions;
  }

  /** Whether a live entry exists for `id`; an expired one found here is dropped. */
  has(id: string): boolean {
    const entry = this.#entries.get(id);
    if (!entry) return false;
    // The timer normally drops it first; a busy event loop can run it late.
    if (performance.now() < entry.expiresAt) return true;
    this.#drop(id, entry, true);
    return false;
  }

  /** A fresh copy of `id`'s key, counting one use; the entry is dropped at its last use. */
  take(id: string): CachedKey | undefined {
    if (!this.has(id)) return undefined;
    const entry = this.#entries.get(id)!;
    const dataKey = copyKey(entry.dataKey);
    const encryptedDataKeys = entry.encryptedDataKeys && copyEncryptedDataKeys(entry.encryptedDataKeys);
    entry.uses += 1;
    this.#entries.delete(id);
    if (entry.uses >= entry.maxUses) this.#drop(id, entry, true);
    else this.#entries.set(id, entry);
    return { dataKey, encryptedDataKeys };
  }

  /**
   * Stores `dataKey` under `id`. The cache takes ownership of that buffer: the caller must not use it
   * afterwards, and it is zeroed when the entry goes (at once, if `uses` copies already reached the
   * limit). Replaces any entry under `id`; the least recently used entry goes when the cache is full.
   */
  put(id: string, dataKey: Uint8Array, limits: EntryLimits, uses: number, encryptedDataKeys?: readonly EncryptedDataKey[]): void {
    if (uses >= limits.maxUses) {
      dataKey.fill(0);
      return;
    }
    const previous = this.#entries.get(id);
    if (previous) this.#drop(id, previous, false);
    const timer = setTimeout(() => {
      if (this.#entries.get(id) === entry) this.#drop(id, entry, true);
    }, limits.maxAgeMs);
    unrefTimer(timer);
    const entry: Entry = {
      dataKey,
      encryptedDataKeys: encryptedDataKeys && Object.freeze(copyEncryptedDataKeys(encryptedDataKeys)),
      expiresAt: performance.now() + limits.maxAgeMs,
      maxUses: limits.maxUses,
      uses,
      timer,
    };
    this.#entries.set(id, entry);
    for (const [oldest, victim] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries) break;
      this.#drop(oldest, victim, true);
    }
  }

  /** Zeroes and drops every entry. */
  clear(): void {
    for (const [id, entry] of this.#entries) this.#drop(id, entry, false);
  }

  #drop(id: string, entry: Entry, evicted: boolean): void {
    clearTimeout(entry.timer);
    entry.dataKey.fill(0);
    this.#entries.delete(id);
    if (evicted) this.#evictions += 1;
  }
}
