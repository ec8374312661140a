import { describe, expect, it } from 'vitest';
import { withDeadline } from '../src/keyrings/deadline.js';

const timeoutError = (cause: unknown) => new Error('timed out', { cause });
/** An operation that never settles on its own, as a client library ignoring its signal would. */
const never = () => new Promise<Uint8Array>(() => undefined);

describe('withDeadline', () => {
  it('resolves what the operation resolves, handing it a signal that is not aborted', async () => {
    let seen: AbortSignal | undefined;
    const value = await withDeadline({ timeoutMs: 1_000, onTimeout: timeoutError }, async (signal) => {
      seen = signal;
      return 42;
    });
    expect(value).toBe(42);
    expect(seen?.aborted).toBe(false);
  });

  it('passes on the operation\'s own failure', async () => {
    const failure = new Error('denied');
    await expect(withDeadline({ timeoutMs: 1_000, onTimeout: timeoutError }, async () => Promise.reject(failure))).rejects.toBe(failure);
  });

  it('rejects with onTimeout\'s error, caused by a TimeoutError, and aborts the operation\'s signal when time runs out', async () => {
    let seen: AbortSignal | undefined;
    const error = await withDeadline({ timeoutMs: 50, onTimeout: timeoutError }, (signal) => {
      seen = signal;
      return never();
    }).then(
      () => expect.unreachable('resolved'),
      (e: unknown) => e as Error,
    );
    expect(error.message).toBe('timed out');
    expect((error.cause as Error).name).toBe('TimeoutError');
    expect(seen?.aborted).toBe(true);
  });

  it('rejects at once with the caller\'s reason on abort, even when the operation ignores its signal', async () => {
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const pending = withDeadline({ signal: controller.signal, timeoutMs: 60_000, onTimeout: timeoutError }, never);
    setTimeout(() => controller.abort(reason), 20);
    await expect(pending).rejects.toBe(reason);
  });

  it('does not start the operation when the caller\'s signal is already aborted', async () => {
    let started = false;
    const reason = new Error('already aborted');
    await expect(
      withDeadline({ signal: AbortSignal.abort(reason), timeoutMs: 1_000, onTimeout: timeoutError }, async () => {
        started = true;
        return 1;
      }),
    ).rejects.toBe(reason);
    expect(started).toBe(false);
  });

  it('discards a result that arrives after the deadline settled the call', async () => {
    const controller = new AbortController();
    const late = new Uint8Array(32).fill(7);
    let finish: (key: Uint8Array) => void = () => undefined;
    const discarded: Uint8Array[] = [];
    const pending = withDeadline(
      { signal: controller.signal, timeoutMs: 60_000, onTimeout: timeoutError, discard: (key) => discarded.push(key.fill(0)) },
      () => new Promise<Uint8Array>((resolve) => (finish = resolve)),
    );
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    finish(late);
    await new Promise((resolve) => setImmediate(resolve));
    expect(discarded).toEqual([late]);
    expect(late.every((byte) => byte === 0)).toBe(true);
  });
});
