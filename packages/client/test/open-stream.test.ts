import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { objectLayout, planRead } from '../src/format/layout.js';
import { openSegmentsStream } from '../src/format/open-stream.js';
import { sealPart } from '../src/format/segments.js';

const SEGMENT = 4096;
const key = randomBytes(32);
const plaintext = randomBytes(3 * SEGMENT + 123);
const sealed = sealPart(key, plaintext, SEGMENT);
const layout = objectLayout([{ partNumber: 1, length: plaintext.length, salt: Buffer.alloc(16) }], SEGMENT);

async function open(streamed: Buffer, suffix?: Buffer): Promise<{ output: Buffer; closed: boolean; chunks: Buffer[] }> {
  let closed = false;
  const chunks: Buffer[] = [];
  const pieces = [];
  for (let offset = 0; offset < streamed.length; offset += 1000) pieces.push(streamed.subarray(offset, offset + 1000));
  const stream = openSegmentsStream(Readable.from(pieces), planRead(layout, 0, plaintext.length, true).segments(), () => key, { onClose: () => (closed = true), ...(suffix ? { suffix } : {}) });
  await pipeline(stream, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) chunks.push(chunk);
  });
  await new Promise((resolve) => setImmediate(resolve));
  return { output: Buffer.concat(chunks), closed, chunks };
}

describe('openSegmentsStream', () => {
  it('opens bytes in arbitrary chunks, then the in-memory suffix, and calls onClose', async () => {
    const split = sealed.length - 5000;
    const { output, closed } = await open(sealed.subarray(0, split), sealed.subarray(split));
    expect(output.equals(plaintext)).toBe(true);
    expect(closed).toBe(true);
  });

  it('errors with ERR_DECRYPTION_FAILED on a flipped byte, and with ERR_OBJECT_TRUNCATED when bytes are missing', async () => {
    const tampered = Buffer.from(sealed);
    tampered[SEGMENT + 20] = (tampered[SEGMENT + 20] as number) ^ 1;
    await expect(open(tampered)).rejects.toMatchObject({ code: 'ERR_DECRYPTION_FAILED' });
    await expect(open(sealed.subarray(0, sealed.length - 1))).rejects.toMatchObject({ code: 'ERR_OBJECT_TRUNCATED' });
  });

  it('hands each decrypted piece over as is, never a concatenation spanning segments', async () => {
    const { output, chunks } = await open(sealed);
    expect(output.equals(plaintext)).toBe(true);
    // Source chunks of 1000 bytes: no piece can be longer, unless pieces were joined.
    expect(Math.max(...chunks.map((chunk) => chunk.length))).toBeLessThanOrEqual(1000);
  });

  it('reads ahead of a consumer that does not read only a bounded amount, and fails on bytes beyond the guard', async () => {
    const big = randomBytes(8 * 1024 * 1024);
    const bigSealed = sealPart(key, big, SEGMENT);
    const bigLayout = objectLayout([{ partNumber: 1, length: big.length, salt: Buffer.alloc(16) }], SEGMENT);
    let pulled = 0;
    const source = new Readable({
      read() {
        const chunk = bigSealed.subarray(pulled, pulled + 16 * 1024);
        pulled += chunk.length;
        this.push(chunk.length > 0 ? chunk : null);
      },
    });
    const stream = openSegmentsStream(source, planRead(bigLayout, 0, big.length, true).segments(), () => key);
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
    // 1 MiB of read-ahead, plus the source's own buffer and the segment being opened.
    expect(pulled).toBeGreaterThan(0);
    expect(pulled).toBeLessThan(2 * 1024 * 1024);
    stream.destroy();
    expect(source.destroyed).toBe(true);

    const guarded = openSegmentsStream(Readable.from([sealed]), planRead(layout, 0, plaintext.length, true).segments(), () => key, {
      sourceGuard: {
        chunk: () => {
          throw new Error('too many bytes');
        },
        end: () => undefined,
      },
    });
    await expect(pipeline(guarded, async (s: AsyncIterable<Buffer>) => { for await (const _ of s) void _; })).rejects.toThrow('too many bytes');
  });
});
