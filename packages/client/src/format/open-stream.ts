// Opens a stream of sealed segments according to a read plan. Each segment's plaintext is released
// only after its tag verifies; a stream that ends early or runs long fails instead of ending cleanly.
import { DecryptionError } from '../errors.js';
import type { SegmentPlan } from './layout.js';
import { openSegment } from './segments.js';

export async function* openSegments(
  source: AsyncIterable<Uint8Array>,
  plan: Iterable<SegmentPlan>,
  keyForPart: (partIndex: number) => Uint8Array,
): AsyncGenerator<Buffer> {
  const segments = plan[Symbol.iterator]();
  let next = segments.next();
  let pending: Buffer[] = [];
  let pendingLength = 0;
  const take = (length: number): Buffer => {
    const joined = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingLength);
    const rest = joined.subarray(length);
    pending = rest.length > 0 ? [rest] : [];
    pendingLength = rest.length;
    return joined.subarray(0, length);
  };
  const open = (segment: SegmentPlan): Buffer => {
    const plaintext = openSegment(keyForPart(segment.partIndex), segment.index, segment.final, take(segment.sealedLength));
    return segment.keepFrom === 0 && segment.keepTo === plaintext.length ? plaintext : plaintext.subarray(segment.keepFrom, segment.keepTo);
  };
  for await (const chunk of source) {
    pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    pendingLength += chunk.byteLength;
    while (!next.done && pendingLength >= next.value.sealedLength) {
      const plaintext = open(next.value);
      next = segments.next();
      if (plaintext.length > 0) yield plaintext;
    }
    if (next.done && pendingLength > 0) throw new DecryptionError('ERR_OBJECT_MALFORMED');
  }
  if (!next.done) throw new DecryptionError('ERR_OBJECT_TRUNCATED');
  if (pendingLength > 0) throw new DecryptionError('ERR_OBJECT_MALFORMED');
}
