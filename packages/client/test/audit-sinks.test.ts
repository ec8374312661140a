// The sinks shipped in @s3crypt/client: JSON Lines to a real file (in a temporary directory) and to a
// real stream, a callback, and a logger of pino's shape (an object with `info`, which is the whole
// contract the sink relies on).
import { constants, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { callbackSink } from '../src/audit/callback-sink.js';
import type { AuditEvent } from '../src/audit/events.js';
import { JsonLinesSink } from '../src/audit/json-lines-sink.js';
import { loggerSink } from '../src/audit/logger-sink.js';
import { openFlagsOf } from '../../../test/harness/open-flags.js';

const dir = mkdtempSync(join(tmpdir(), 's3crypt-audit-sinks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function event(n: number): AuditEvent {
  return { schema: 1, time: '2026-01-01T00:00:00.000Z', operation: 'generate', outcome: 'success', bucket: 'b', key: `k${n}`, requestId: `r${n}` };
}

const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as AuditEvent);

describe('JsonLinesSink to a file', () => {
  it('an event is in the file (one JSON line) when its write resolves', async () => {
    const path = join(dir, 'one.jsonl');
    const sink = new JsonLinesSink({ path });
    await sink.write(event(1));
    expect(lines(path)).toEqual([event(1)]);
    await sink.write(event(2));
    expect(lines(path)).toEqual([event(1), event(2)]);
    await sink.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('appends to an existing file, across sinks (process restarts)', async () => {
    const path = join(dir, 'append.jsonl');
    const first = new JsonLinesSink({ path });
    await first.write(event(1));
    await first.close();
    const second = new JsonLinesSink({ path, fsync: false });
    await second.write(event(2));
    await second.close();
    expect(lines(path).map((e) => e.key)).toEqual(['k1', 'k2']);
  });

  it('writes handed over together in order, each resolving once all are written', async () => {
    const path = join(dir, 'batch.jsonl');
    const sink = new JsonLinesSink({ path });
    const writes = Array.from({ length: 200 }, (_, n) => sink.write(event(n)));
    await Promise.all(writes);
    expect(lines(path).map((e) => e.key)).toEqual(Array.from({ length: 200 }, (_, n) => `k${n}`));
    await sink.close();
  });

  // Durability cannot be observed from a test; the descriptor's open flags can.
  it.runIf(process.platform === 'linux')('opens the file with O_DSYNC unless fsync is off, so a write is durable when it resolves', async () => {
    const durable = new JsonLinesSink({ path: join(dir, 'durable.jsonl') });
    await durable.write(event(1));
    expect(openFlagsOf(join(dir, 'durable.jsonl')) & constants.O_DSYNC).toBe(constants.O_DSYNC);
    expect(openFlagsOf(join(dir, 'durable.jsonl')) & constants.O_APPEND).toBe(constants.O_APPEND);
    await durable.close();
    const fast = new JsonLinesSink({ path: join(dir, 'fast.jsonl'), fsync: false });
    await fast.write(event(1));
    expect(openFlagsOf(join(dir, 'fast.jsonl')) & constants.O_DSYNC).toBe(0);
    await fast.close();
  });

  it('a file that cannot be opened rejects the write, and the next write tries again', async () => {
    const sink = new JsonLinesSink({ path: join(dir, 'missing-directory', 'audit.jsonl') });
    await expect(sink.write(event(1))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(sink.write(event(2))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses options that name neither a path nor a stream', () => {
    expect(() => new JsonLinesSink({ path: '' })).toThrow(TypeError);
    expect(() => new JsonLinesSink({} as never)).toThrow(TypeError);
  });
});

describe('JsonLinesSink to a stream', () => {
  it('writes one line per event and leaves the stream open on close', async () => {
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    const sink = new JsonLinesSink({ stream });
    await Promise.all([sink.write(event(1)), sink.write(event(2))]);
    await sink.close();
    expect(stream.writableEnded).toBe(false);
    expect(Buffer.concat(chunks).toString('utf8')).toBe(`${JSON.stringify(event(1))}\n${JSON.stringify(event(2))}\n`);
  });

  it("a stream's write error rejects the events of that write", async () => {
    const broken = new Writable({ write: (_chunk, _encoding, callback) => callback(new Error('EPIPE')) });
    broken.on('error', () => undefined);
    await expect(new JsonLinesSink({ stream: broken }).write(event(1))).rejects.toThrow('EPIPE');
  });
});

describe('callbackSink and loggerSink', () => {
  it('callbackSink calls the function with the event and passes its promise on', async () => {
    const seen: AuditEvent[] = [];
    const sink = callbackSink(async (e) => {
      seen.push(e);
      await Promise.resolve();
    });
    await sink.write(event(1));
    expect(seen).toEqual([event(1)]);
    expect(() => callbackSink(undefined as never)).toThrow(TypeError);
  });

  it('loggerSink logs { audit: event } at info, so the event time never collides with the logger time', () => {
    const logged: [object, string | undefined][] = [];
    const sink = loggerSink({ info: (object, message) => void logged.push([object, message]) });
    void sink.write(event(1));
    expect(logged).toEqual([[{ audit: event(1) }, 's3crypt audit event']]);
    expect(() => loggerSink({} as never)).toThrow(TypeError);
  });
});
