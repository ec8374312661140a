// The audit buffer between operations and a sink: bounded, in order, and each full-buffer mode does
// what AuditOptions.whenFull documents. The sinks here are plain functions whose promises the test
// settles by hand, so "slow" and "failing" are exact rather than timed.
import { describe, expect, it } from 'vitest';
import { AuditBuffer, type AuditDelivery } from '../src/audit/buffer.js';
import type { AuditEvent, AuditSink } from '../src/audit/events.js';

function event(n: number): AuditEvent {
  return { schema: 1, time: new Date(0).toISOString(), operation: 'unwrap', outcome: 'success', key: `k${n}` };
}

/** A sink whose writes stay pending until the test settles them. */
function heldSink() {
  const writes: { event: AuditEvent; resolve: () => void; reject: (error: Error) => void }[] = [];
  const sink: AuditSink = {
    write: (e) =>
      new Promise<void>((resolve, reject) => {
        writes.push({ event: e, resolve, reject });
      }),
  };
  return { sink, writes };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

function buffer(sink: AuditSink, capacity: number, delivery: AuditDelivery) {
  return new AuditBuffer(sink, capacity, delivery);
}

describe('AuditBuffer', () => {
  it('hands events to the sink in emission order, after the emitting turn', async () => {
    const seen: string[] = [];
    const audit = buffer({ write: (e) => void seen.push(e.key!) }, 100, 'block');
    for (let n = 0; n < 10; n++) audit.enqueue({ event: event(n), principal: undefined });
    expect(seen).toEqual([]);
    await audit.drained();
    expect(seen).toEqual(Array.from({ length: 10 }, (_, n) => `k${n}`));
    expect(audit.stats()).toEqual({ emitted: 10, written: 10, dropped: 0, failed: 0, pending: 0 });
  });

  it('block: a full buffer makes the emitter wait until the sink accepts an earlier event', async () => {
    const { sink, writes } = heldSink();
    const audit = buffer(sink, 2, 'block');
    expect(audit.enqueue({ event: event(1), principal: undefined }).room).toBeUndefined();
    expect(audit.enqueue({ event: event(2), principal: undefined }).room).toBeUndefined();
    let roomMade = false;
    const third = audit.enqueue({ event: event(3), principal: undefined });
    void third.room!.then(() => (roomMade = true));
    await tick();
    expect(roomMade).toBe(false);
    expect(writes).toHaveLength(2);
    writes[0]!.resolve();
    await tick();
    expect(roomMade).toBe(true);
    writes[1]!.resolve();
    await tick();
    writes[2]!.resolve();
    await audit.drained();
    expect(writes.map((w) => w.event.key)).toEqual(['k1', 'k2', 'k3']);
    expect(audit.stats()).toMatchObject({ written: 3, dropped: 0, pending: 0 });
  });

  it('drop: a full buffer never waits; the event is dropped and counted', async () => {
    const { sink, writes } = heldSink();
    const audit = buffer(sink, 1, 'drop');
    audit.enqueue({ event: event(1), principal: undefined });
    const second = audit.enqueue({ event: event(2), principal: undefined });
    const third = audit.enqueue({ event: event(3), principal: undefined });
    expect(second).toEqual({});
    expect(third).toEqual({});
    expect(audit.stats()).toMatchObject({ emitted: 3, dropped: 2, pending: 1 });
    await tick();
    writes[0]!.resolve();
    await audit.drained();
    expect(writes.map((w) => w.event.key)).toEqual(['k1']);
  });

  it('block and drop: a failing sink loses the event, counted, and fails nobody', async () => {
    const audit = buffer({ write: () => Promise.reject(new Error('disk full')) }, 4, 'block');
    const enqueued = audit.enqueue({ event: event(1), principal: undefined });
    expect(enqueued.accepted).toBeUndefined();
    await audit.drained();
    expect(audit.stats()).toMatchObject({ written: 0, failed: 1, pending: 0 });
  });

  it('fail-closed: accepted resolves only once the sink accepted the event', async () => {
    const { sink, writes } = heldSink();
    const audit = buffer(sink, 4, 'fail-closed');
    let accepted = false;
    void audit.enqueue({ event: event(1), principal: undefined }).accepted!.then(() => (accepted = true));
    await tick();
    expect(accepted).toBe(false);
    writes[0]!.resolve();
    await tick();
    expect(accepted).toBe(true);
  });

  it('fail-closed: a sink that throws or rejects rejects accepted with its error', async () => {
    const failure = new Error('sink down');
    const throwing = buffer(
      {
        write: () => {
          throw failure;
        },
      },
      4,
      'fail-closed',
    );
    await expect(throwing.enqueue({ event: event(1), principal: undefined }).accepted).rejects.toBe(failure);
    const rejecting = buffer({ write: () => Promise.reject(failure) }, 4, 'fail-closed');
    await expect(rejecting.enqueue({ event: event(1), principal: undefined }).accepted).rejects.toBe(failure);
    expect(rejecting.stats()).toMatchObject({ failed: 1, written: 0 });
  });

  it('fail-closed: a full buffer waits for room, then for acceptance', async () => {
    const { sink, writes } = heldSink();
    const audit = buffer(sink, 1, 'fail-closed');
    audit.enqueue({ event: event(1), principal: undefined }).accepted!.catch(() => undefined);
    const second = audit.enqueue({ event: event(2), principal: undefined });
    expect(second.room).toBeDefined();
    let accepted = false;
    void second.accepted!.then(() => (accepted = true));
    await tick();
    writes[0]!.resolve();
    await tick();
    expect(accepted).toBe(false);
    writes[1]!.resolve();
    await tick();
    expect(accepted).toBe(true);
  });

  it('adds a resolved principal to the event; a principal that fails to resolve fails the event', async () => {
    const seen: AuditEvent[] = [];
    const audit = buffer({ write: (e) => void seen.push(e) }, 4, 'fail-closed');
    await audit.enqueue({ event: event(1), principal: Promise.resolve('AKIDEXAMPLE') }).accepted;
    expect(seen[0]!.principal).toBe('AKIDEXAMPLE');
    const lookup = new Error('no user');
    await expect(audit.enqueue({ event: event(2), principal: Promise.reject(lookup) }).accepted).rejects.toBe(lookup);
    expect(seen).toHaveLength(1);
  });
});
