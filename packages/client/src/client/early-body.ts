// A whole-object read asks for the stored bytes before the tail as soon as the tail's headers say
// where they end, so that its second round trip runs while the tail is read, the key unwrapped and
// the trailer authenticated, instead of after them. Nothing of that response is used before the
// object is opened: it is pinned to the version the tail came from, checked against the range the
// opened object needs like every ranged GET of a read, and dropped when the read ends another way.
import type { GetObjectCommandOutput } from '@aws-sdk/client-s3';
import { signalOf, type HandlerContext, type SendOptions } from './context.js';
import { getStoredRange, type TailHeaders } from './read-object.js';
import { discardBody } from './store-response.js';

export class EarlyBody {
  #early: { readonly end: number; readonly response: Promise<GetObjectCommandOutput> } | undefined;
  readonly #controller = new AbortController();

  constructor(
    private readonly ctx: HandlerContext,
    private readonly options: SendOptions,
  ) {}

  /** Fetches stored bytes [0, tailOffset) of the version the tail came from (for `onTailHeaders`). */
  start({ total, tailOffset, sameVersion }: TailHeaders): void {
    if (tailOffset <= 0 || this.#early) return;
    const caller = signalOf(this.options);
    const abortSignal = caller ? AbortSignal.any([caller, this.#controller.signal]) : this.#controller.signal;
    const response = getStoredRange(this.ctx, sameVersion, 0, tailOffset, total, { ...this.options, abortSignal });
    // Its failure is reported to whoever takes it; one that is never taken is only dropped.
    response.catch(() => undefined);
    this.#early = { end: tailOffset, response };
  }

  /** The early response, if it is for exactly stored bytes [start, end): it is then the caller's. */
  take(start: number, end: number): Promise<GetObjectCommandOutput> | undefined {
    const early = this.#early;
    if (!early || start !== 0 || end !== early.end) return undefined;
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
