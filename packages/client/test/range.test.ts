import { describe, expect, it } from 'vitest';
import { resolveRange } from '../src/client/range.js';
import { parseCopySource } from '../src/client/copy-object.js';

describe('resolveRange', () => {
  it.each([
    ['bytes=0-9', 100, 0, 10],
    ['bytes=90-200', 100, 90, 100],
    ['bytes=10-', 100, 10, 100],
    ['bytes=-10', 100, 90, 100],
    ['bytes=-1000', 100, 0, 100],
    ['bytes=99-99', 100, 99, 100],
  ])('%s of %i bytes → [%i, %i)', (header, length, start, end) => {
    expect(resolveRange(header, length)).toEqual({ start, end, whole: false });
  });

  it.each(['bytes=100-', 'bytes=-0', 'bytes=200-300'])('%s of 100 bytes is not satisfiable: InvalidRange, 416, as S3 answers', (header) => {
    expect(() => resolveRange(header, 100)).toThrow(expect.objectContaining({ name: 'InvalidRange', $metadata: { httpStatusCode: 416 } }));
  });

  it.each(['bytes=0-1,5-6', 'items=0-1', 'bytes=-', 'bytes=5-2'])('%s is refused as misuse', (header) => {
    expect(() => resolveRange(header, 100)).toThrow(TypeError);
  });
});

describe('parseCopySource', () => {
  it('parses bucket, URL-encoded key and versionId', () => {
    expect(parseCopySource('/b/dir/a%20b.txt?versionId=v1')).toEqual({ bucket: 'b', key: 'dir/a b.txt', versionId: 'v1' });
    expect(parseCopySource('b/k')).toEqual({ bucket: 'b', key: 'k' });
    expect(() => parseCopySource('nokey')).toThrow(TypeError);
  });
});
