/**
 * Runs `work` on every item of `items` with at most `limit` in flight, in order of arrival; items are
 * pulled only when a slot is free, so a long listing is never buffered. After a failure no new item is
 * started; the ones in flight are awaited, then the first failure is thrown.
 */
export async function forEachConcurrently<T>(items: AsyncIterable<T> | Iterable<T>, limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  try {
    for await (const item of items) {
      if (failure) break;
      const task: Promise<void> = work(item)
        .catch((error: unknown) => {
          failure ??= { error };
        })
        .finally(() => running.delete(task));
      running.add(task);
      if (running.size >= limit) await Promise.race(running);
    }
  } finally {
    // Also when the source itself fails: nothing is left running behind the caller's back.
    await Promise.all(running);
  }
  if (failure) throw failure.error;
}
