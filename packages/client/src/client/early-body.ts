// A read asks for the stored bytes it will need before the tail as soon as it knows where they are:
// all of them for a whole read once the tail's headers give the length; a guess for a ranged one;
// and, for an object version an earlier read of this client opened, before the tail is even asked
// for. Its second round trip then runs while the tail is read, the key unwrapped and the trailer
// authenticated, instead of after them. Nothing of such a response is used before the object is
// opened: it is pinned to an ETag the tail must confirm, range-checked like every ranged GET of a
// read, used only if it is exactly the range the authenticated layout needs, and dropped otherwise.
import type { GetObjectCommandInput, GetObjectCommandOutput } from '@aws-sdk/client-s3';
import { signalOf, type HandlerContext, type SendOptions } from './context.js';
import { getStoredRange, type TailHeaders } from './read-object.js';
import { discardBody } from './store-response.js';

interface Early {
  readonly start: number;
  readonly end: number;
  /** The ETag it is pinned to. */
  readonly etag: string | undefined;
  readonly response: Promise<GetObjectCommandOutput>;
  readonly controller: AbortController;
}

export class EarlyBody {
  #early: Early | undefined;

  constructor(
    private readonly ctx: HandlerContext,
    private readonly options: SendOptions,
  ) {}

  /**
   * Before the tail is asked for: stored bytes [from, to) of an object of `total` bytes, pinned to
   * the ETag an earlier read found (`sameVersion` carries it as IfMatch). Kept only if the tail's
   * headers then show that very version (see {@link start}).
   */
  startBeforeTail(sameVersion: GetObjectCommandInput, from: number, to: number, total: number): void {
    if (from >= 0 && from < to && to <= total && !this.#early) this.#fetch(sameVersion, from, to, total);
  }

  /**
   * Once the tail's headers are in: stored bytes [from, to) of the version the tail came from (all of
   * those before the tail by default; an empty range for none). An early request already made for
   * the same version and bytes is kept; any other is dropped.
   */
  start(tail: TailHeaders, from = 0, to = tail.tailOffset): void {
    const early = this.#early;
    if (early && early.etag === tail.etag && early.start === from && early.end === to) return;
    this.dispose();
    if (from >= 0 && from < to && to <= tail.tailOffset) this.#fetch(tail.sameVersion, from, to, tail.total);
  }

  /** The early response, if it is for exactly stored bytes [start, end): it is then the caller's. */
  take(start: number, end: number): Promise<GetObjectCommandOutput> | undefined {
    const early = this.#early;
    if (!early || start !== early.start || end !== early.end) return undefined;
    this.#early = undefined;
    return early.response;
  }

  /** Drops an early response not taken: the read failed, or needs other bytes. */
  dispose(): void {
    const early = this.#early;
    if (!early) return;
    this.#early = undefined;
    early.controller.abort();
    void early.response.then(discardBody, () => undefined);
  }

  #fetch(sameVersion: GetObjectCommandInput, from: number, to: number, total: number): void {
    const controller = new AbortController();
    const caller = signalOf(this.options);
    const abortSignal = caller ? AbortSignal.any([caller, controller.signal]) : controller.signal;
    const response = getStoredRange(this.ctx, sameVersion, from, to, total, { ...this.options, abortSignal });
    // Its failure is reported to whoever takes it; one that is never taken is only dropped.
    response.catch(() => undefined);
    this.#early = { start: from, end: to, etag: sameVersion.IfMatch, response, controller };
  }
}
