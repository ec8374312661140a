// Where a listing can resume: objects finish out of order, so the checkpoint is the highest listed
// key below which every object finished (and none failed). A run restarted after it loses nothing.

/** An object's place in the listing. */
export interface Sequenced {
  readonly seq: number;
  readonly key: string;
}

/** The highest listed key below which every object is finished, as objects finish out of order. */
export class LowWaterMark {
  readonly #keys = new Map<number, string>();
  readonly #finished = new Set<number>();
  #next = 0;
  #mark: string | undefined;

  started(item: Sequenced): void {
    this.#keys.set(item.seq, item.key);
  }

  /** A failed object holds the mark before it: a resumed run tries it again. */
  finished(item: Sequenced, failed: boolean): string | undefined {
    if (!failed) this.#finished.add(item.seq);
    while (this.#finished.delete(this.#next)) {
      this.#mark = this.#keys.get(this.#next);
      this.#keys.delete(this.#next++);
    }
    return this.#mark;
  }
}
