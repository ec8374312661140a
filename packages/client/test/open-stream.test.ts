import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { objectLayout, planRead } from '../src/format/layout.js';
import { openSegmentsTransform } from '../src/format/open-stream.js';
import { sealPart } from '../src/format/segments.js';

const SEGMENT = 4096;
const key = randomBytes(32);
const plaintext = randomBytes(3 * SEGMENT + 123);
const sealed = sealPart(key, plaintext, SEGMENT);
const layout = objectLayout([{ partNumber: 1, length: plaintext.length, salt: Buffer.alloc(16) }], SEGMENT);

async function open(streamed: Buffer, suffix?: Buffer): Promise<{ output: Buffer; closed: boolean }> {
  let closed = false;
  const chunks: Buffer[] = [];
  const transform = openSegmentsTransform(planRead(layout, 0, plaintext.length, true).segments(), () => key, () => (closed = true), suffix);
  const pieces = [];
  for (let offset = 0; offset < streamed.length; offset += 1000) pieces.push(streamed.subarray(offset, offset + 1000));
  await pipeline(Readable.from(pieces), transform, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) chunks.push(chunk);
  });
  await new Promise((resolve) => setImmediate(resolve));
  return { output: Buffer.concat(chunks), closed };
}

describe('openSegmentsTransform', () => {
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
});
