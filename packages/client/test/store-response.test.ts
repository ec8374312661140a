// The checks on ranged GET responses, on response values as the SDK returns them (headers parsed,
// body a Node stream). Against a real lying store: test/client-hardening-minio.test.ts.
import type { GetObjectCommandOutput } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { exactly, expectRange, expectSuffix, readExactly } from '../src/client/store-response.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A body of `length` bytes produced lazily, counting what was pulled from it. */
function lazyBody(length: number, chunk = 64 * KiB) {
  const stats = { pulled: 0, destroyed: false };
  const piece = Buffer.alloc(chunk, 0x61);
  const body = Readable.from(
    (function* () {
      for (let sent = 0; sent < length; sent += chunk) {
        stats.pulled += Math.min(chunk, length - sent);
        yield piece.subarray(0, Math.min(chunk, length - sent));
      }
    })(),
  );
  body.once('close', () => (stats.destroyed = true));
  return { body, stats };
}

function response(fields: Partial<GetObjectCommandOutput> & { status?: number; body?: Readable }): GetObjectCommandOutput {
  const { status = 206, body, ...rest } = fields;
  return { $metadata: { httpStatusCode: status }, ...rest, Body: body as never };
}

describe('expectSuffix', () => {
  it('accepts the last bytes of an object, or the whole of a smaller one', () => {
    expect(expectSuffix(response({ ContentRange: 'bytes 744-1023/1024', ContentLength: 280 }), 280, 'b/k')).toEqual({ length: 280, total: 1024 });
    expect(expectSuffix(response({ ContentRange: 'bytes 0-99/100', ContentLength: 100 }), 280, 'b/k')).toEqual({ length: 100, total: 100 });
    expect(expectSuffix(response({ status: 200, ContentLength: 100 }), 280, 'b/k')).toEqual({ length: 100, total: 100 });
    expect(expectSuffix(response({ ContentRange: 'bytes 0--1/0', ContentLength: 0 }), 280, 'b/k')).toEqual({ length: 0, total: 0 });
  });

  it('refuses a declared length larger than asked before reading, and closes the body', () => {
    const { body, stats } = lazyBody(768 * MiB);
    expect(() => expectSuffix(response({ ContentRange: `bytes 0-${768 * MiB - 1}/${768 * MiB}`, ContentLength: 768 * MiB, body }), 256 * KiB, 'b/k')).toThrow(
      expect.objectContaining({ code: 'ERR_RESPONSE_TOO_LARGE', message: expect.stringContaining('b/k') }),
    );
    expect(body.destroyed).toBe(true);
    expect(stats.pulled).toBeLessThanOrEqual(64 * KiB);
  });

  it('refuses a Content-Range that is not the end of the object, or does not match the length', () => {
    for (const fields of [
      { ContentRange: 'bytes 0-279/1024', ContentLength: 280 },
      { ContentRange: 'bytes 744-1023/1024', ContentLength: 279 },
      { ContentRange: 'bytes 900-1023/1024', ContentLength: 124 },
      { ContentRange: 'bytes */1024' },
      { ContentRange: 'bytes 744-1023/1024\r\nX: y', ContentLength: 280 },
      { ContentLength: 280 },
    ]) {
      expect(() => expectSuffix(response(fields), 280, 'b/k'), JSON.stringify(fields)).toThrow(expect.objectContaining({ code: 'ERR_OBJECT_MALFORMED', message: expect.not.stringMatching(/\r|\n/) }));
    }
  });
});

describe('expectRange', () => {
  it('accepts exactly the range asked of an object of the known length', () => {
    expect(() => expectRange(response({ ContentRange: 'bytes 100-199/1000', ContentLength: 100 }), 100, 200, 1000, 'b/k')).not.toThrow();
    expect(() => expectRange(response({ ContentRange: 'bytes 100-199/1000' }), 100, 200, 1000, 'b/k')).not.toThrow();
  });

  it('refuses more bytes than asked (ERR_RESPONSE_TOO_LARGE) and any other range (ERR_OBJECT_MALFORMED)', () => {
    expect(() => expectRange(response({ ContentRange: 'bytes 100-199/1000', ContentLength: 900 }), 100, 200, 1000, 'b/k')).toThrow(expect.objectContaining({ code: 'ERR_RESPONSE_TOO_LARGE' }));
    for (const ContentRange of ['bytes 101-200/1000', 'bytes 100-198/1000', 'bytes 100-199/1001', undefined]) {
      expect(() => expectRange(response({ ContentRange, ContentLength: 100 }), 100, 200, 1000, 'b/k'), ContentRange).toThrow(expect.objectContaining({ code: 'ERR_OBJECT_MALFORMED' }));
    }
    expect(() => expectRange(response({ status: 200, ContentLength: 100 }), 100, 200, 1000, 'b/k')).toThrow(expect.objectContaining({ code: 'ERR_OBJECT_MALFORMED' }));
  });
});

describe('readExactly', () => {
  it('reads exactly the bytes asked', async () => {
    const { body } = lazyBody(300 * KiB);
    expect((await readExactly(response({ body }), 300 * KiB, 'b/k')).length).toBe(300 * KiB);
  });

  it('stops as soon as an undeclared (chunked) body runs past the limit, pulling no more than one chunk beyond it', async () => {
    const { body, stats } = lazyBody(768 * MiB);
    await expect(readExactly(response({ body }), 256 * KiB, 'b/k')).rejects.toMatchObject({ code: 'ERR_RESPONSE_TOO_LARGE' });
    expect(body.destroyed).toBe(true);
    expect(stats.pulled).toBeLessThanOrEqual(256 * KiB + 2 * 64 * KiB);
  });

  it('a body shorter than asked is truncated', async () => {
    const { body } = lazyBody(100);
    await expect(readExactly(response({ body }), 101, 'b/k')).rejects.toMatchObject({ code: 'ERR_OBJECT_TRUNCATED' });
  });
});

describe('exactly', () => {
  it('passes exactly the bytes asked', async () => {
    let seen = 0;
    await pipeline(lazyBody(MiB).body, exactly(MiB, 'b/k'), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) seen += chunk.length;
    });
    expect(seen).toBe(MiB);
  });

  it('errors with ERR_RESPONSE_TOO_LARGE at the first byte beyond, and closes the source', async () => {
    const { body, stats } = lazyBody(768 * MiB);
    await expect(pipeline(body, exactly(MiB, 'b/k'), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) void chunk;
    })).rejects.toMatchObject({ code: 'ERR_RESPONSE_TOO_LARGE' });
    expect(body.destroyed).toBe(true);
    expect(stats.pulled).toBeLessThan(4 * MiB);
  });

  it('errors as truncated when the source ends early', async () => {
    await expect(pipeline(lazyBody(1000).body, exactly(1001, 'b/k'), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) void chunk;
    })).rejects.toMatchObject({ code: 'ERR_OBJECT_TRUNCATED' });
  });
});
