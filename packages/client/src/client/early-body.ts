// A read asks for the stored bytes it will need before the tail as soon as the tail's headers say
// where they are (all of them for a whole read; a guess for a ranged one), so that its second round
// trip runs while the tail is read, the key unwrapped and the trailer authenticated, instead of after
// them. Nothing of that response is used before the object is opened: it is pinned to the version the
// tail came from, range-checked like every ranged GET of a read, used only if it is exactly the range
// the authenticated layout needs, and dropped when the read ends another way.
import type { GetObjectCommandOutput } from '@aws-sdk/client-s3';
import { signalOf, type HandlerContext, type SendOptions } from './context.js';
import { getStoredRange, type TailHeaders } from './read-object.js';
import { discardBody } from './store-response.js';

export class EarlyBody {
  #early: { readonly start: number; readonly end: number; readonly response: Promise<GetObjectCommandOutput> } | undefined;
  readonly #controller = new AbortController();

  constructor(
    private readonly ctx: HandlerContext,
    private readonly options: SendOptions,
  ) {}

  /**
   * Fetches stored bytes [from, to) of the version the tail came from (for `onTailHeaders`); by
   * default all of them before the tail.
   */
  start({ total, tailOffset, sameVersion }: TailHeaders, from = 0, to = tailOffset): void {
    if (!(from >= 0 && from < to && to <= tailOffset) || this.#early) return;
    const caller = signalOf(this.options);
    const abortSignal = caller ? AbortSignal.any([caller, this.#controller.signal]) : this.#controller.signal;
    const response = getStoredRange(this.ctx, sameVersion, from, to, total, { ...this.options, abortSignal });
    // Its failure is reported to whoever takes it; one that is never taken is only dropped.
    response.catch(() => undefined);
    this.#early = { start: from, end: to, response };
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
    this.#controller.abort();
    void early.response.then(discardBody, () => undefined);
  }
}
