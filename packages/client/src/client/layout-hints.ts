// What earlier reads learned of an object's layout, kept per client so that a later ranged read of
// the same object version can guess the stored bytes it will need and ask for them before its
// trailer is read (client/early-body.ts). A hint only decides what is asked for early: each read's
// own authenticated layout decides what is used, so a stale or forged hint costs one dropped
// request, nothing more. Part lengths only: nothing secret is kept.
import { objectLayout, type ObjectLayout } from '../format/layout.js';

/** Objects remembered per client, and the most parts one may have to be remembered. */
const MAX_OBJECTS = 256;
const MAX_PARTS = 1000;

interface Hint {
  readonly partLengths: readonly number[];
  readonly segmentSize: number;
  readonly signed: boolean;
}

export class LayoutHints {
  readonly #hints = new Map<string, Hint>();

  /** The layout a read of this object version found, if one did; undefined otherwise. */
  get(bucket: string, key: string, etag: string | undefined): ObjectLayout | undefined {
    const hint = etag === undefined ? undefined : this.#hints.get(hintKey(bucket, key, etag));
    if (!hint) return undefined;
    return objectLayout(
      hint.partLengths.map((length, index) => ({ partNumber: index + 1, length, salt: new Uint8Array(0) })),
      hint.segmentSize,
      hint.signed,
    );
  }

  /** Remembers the authenticated `layout` of this object version (the oldest hint goes when full). */
  remember(bucket: string, key: string, etag: string | undefined, layout: ObjectLayout, signed: boolean): void {
    if (etag === undefined || layout.parts.length > MAX_PARTS) return;
    const name = hintKey(bucket, key, etag);
    this.#hints.delete(name);
    this.#hints.set(name, { partLengths: layout.parts.map((part) => part.length), segmentSize: layout.segmentSize, signed });
    if (this.#hints.size > MAX_OBJECTS) this.#hints.delete(this.#hints.keys().next().value!);
  }
}

function hintKey(bucket: string, key: string, etag: string): string {
  return JSON.stringify([bucket, key, etag]);
}
