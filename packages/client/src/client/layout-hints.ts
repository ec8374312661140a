// What earlier reads learned of an object version's layout, kept per client so that a later read of
// it can ask for the stored bytes it will need before its trailer is read, or before its tail is even
// asked for (client/early-body.ts). A hint only decides what is asked for early: each read's own
// authenticated layout decides what is used, so a stale or forged hint costs one dropped request,
// nothing more. Part lengths and the ETag only: nothing secret is kept.
import { objectLayout, type ObjectLayout } from '../format/layout.js';

/** Objects remembered per client, and the most parts one may have to be remembered. */
const MAX_OBJECTS = 256;
const MAX_PARTS = 1000;

interface Hint {
  readonly etag: string;
  readonly partLengths: readonly number[];
  readonly segmentSize: number;
  readonly signed: boolean;
}

/** The layout a read found, and the ETag of the version it read. */
export interface LayoutHint {
  readonly etag: string;
  readonly layout: ObjectLayout;
}

export class LayoutHints {
  readonly #hints = new Map<string, Hint>();

  /** What the latest read of this object (this version, if given) found; with `etag`, only if it read that ETag. */
  get(bucket: string, key: string, versionId: string | undefined, etag?: string): LayoutHint | undefined {
    const hint = this.#hints.get(hintKey(bucket, key, versionId));
    if (!hint || (etag !== undefined && hint.etag !== etag)) return undefined;
    const entries = hint.partLengths.map((length, index) => ({ partNumber: index + 1, length, salt: new Uint8Array(0) }));
    return { etag: hint.etag, layout: objectLayout(entries, hint.segmentSize, hint.signed) };
  }

  /** Remembers the authenticated `layout` of the version with `etag` (the oldest object goes when full). */
  remember(bucket: string, key: string, versionId: string | undefined, etag: string | undefined, layout: ObjectLayout, signed: boolean): void {
    if (etag === undefined || layout.parts.length > MAX_PARTS) return;
    const name = hintKey(bucket, key, versionId);
    this.#hints.delete(name);
    this.#hints.set(name, { etag, partLengths: layout.parts.map((part) => part.length), segmentSize: layout.segmentSize, signed });
    if (this.#hints.size > MAX_OBJECTS) this.#hints.delete(this.#hints.keys().next().value!);
  }
}

function hintKey(bucket: string, key: string, versionId: string | undefined): string {
  return JSON.stringify([bucket, key, versionId ?? null]);
}
