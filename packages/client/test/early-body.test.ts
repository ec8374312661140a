// EarlyBody (client/early-body.ts) against a stand-in for the SDK client that records each request
// and hands back responses the test controls: which early response is taken, and what is done with
// one that is not. The MinIO tests of the same behaviour are in test/read-overlap-minio.test.ts.
import type { GetObjectCommand, GetObjectCommandOutput } from '@aws-sdk/client-s3';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { HandlerContext } from '../src/client/context.js';
import { EarlyBody } from '../src/client/early-body.js';
import type { TailHeaders } from '../src/client/read-object.js';
import type { Envelope } from '../src/format/envelope.js';

const total = 1000;
const tailOffset = 700;
const sameVersion = { Bucket: 'b', Key: 'k', IfMatch: '"etag"' };
/** The tail's headers as EarlyBody sees them (the envelope is not looked at). */
const tailOf = (total: number, tailOffset: number): TailHeaders => ({ total, tailOffset, sameVersion, envelope: {} as Envelope, etag: '"etag"' });

/** A context whose inner client answers every ranged GET with exactly the range asked for. */
function recordingContext() {
  const sent: { range: string | undefined; signal: AbortSignal | undefined; body: PassThrough }[] = [];
  const inner = {
    async send(command: GetObjectCommand, options?: { abortSignal?: AbortSignal }): Promise<GetObjectCommandOutput> {
      const range = command.input.Range;
      const [, start, end] = /^bytes=(\d+)-(\d+)$/.exec(range ?? '')!.map(Number);
      const body = new PassThrough();
      sent.push({ range, signal: options?.abortSignal, body });
      return { Body: body, ContentRange: `bytes ${start}-${end}/${total}`, ContentLength: end! - start! + 1, $metadata: { httpStatusCode: 206 } } as unknown as GetObjectCommandOutput;
    },
  };
  return { ctx: { inner } as unknown as HandlerContext, sent };
}

describe('EarlyBody', () => {
  it('asks for stored bytes [0, tailOffset) of the same version, and hands that response over once', async () => {
    const { ctx, sent } = recordingContext();
    const early = new EarlyBody(ctx, undefined);
    early.start(tailOf(total, tailOffset));
    expect(sent.map((request) => request.range)).toEqual([`bytes=0-${tailOffset - 1}`]);
    const taken = early.take(0, tailOffset);
    expect(taken).toBeDefined();
    expect((await taken!).Body).toBe(sent[0]!.body);
    expect(early.take(0, tailOffset)).toBeUndefined();
    early.dispose();
    expect(sent[0]!.body.destroyed).toBe(false);
    expect(sent[0]!.signal!.aborted).toBe(false);
  });

  it('does not hand over a response for other bytes, and drops it when disposed: aborted, body closed', async () => {
    const { ctx, sent } = recordingContext();
    const early = new EarlyBody(ctx, undefined);
    early.start(tailOf(total, tailOffset));
    // The tail was fetched again, longer (a large trailer): the read needs fewer bytes than were asked for.
    expect(early.take(0, tailOffset - 100)).toBeUndefined();
    expect(early.take(10, tailOffset)).toBeUndefined();
    early.dispose();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent[0]!.signal!.aborted).toBe(true);
    expect(sent[0]!.body.destroyed).toBe(true);
  });

  it('asks for a given range of the bytes before the tail (a ranged read\'s guess) and hands over only that one', async () => {
    const { ctx, sent } = recordingContext();
    const early = new EarlyBody(ctx, undefined);
    early.start(tailOf(total, tailOffset), 100, 400);
    expect(sent.map((request) => request.range)).toEqual(['bytes=100-399']);
    expect(early.take(0, tailOffset)).toBeUndefined();
    expect(early.take(100, 400)).toBeDefined();
    // Nothing beyond the tail's start, nothing empty.
    const other = new EarlyBody(ctx, undefined);
    other.start(tailOf(total, tailOffset), 600, 800);
    other.start(tailOf(total, tailOffset), 300, 300);
    expect(sent).toHaveLength(1);
  });

  it("follows the caller's abort signal, and asks for nothing when the tail holds the whole object", () => {
    const { ctx, sent } = recordingContext();
    const caller = new AbortController();
    const early = new EarlyBody(ctx, { abortSignal: caller.signal });
    early.start(tailOf(300, 0));
    expect(sent).toEqual([]);
    early.start(tailOf(total, tailOffset));
    caller.abort();
    expect(sent[0]!.signal!.aborted).toBe(true);
  });
});
