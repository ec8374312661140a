import { inject, expect, it } from 'vitest';
import { runDemo } from '../examples/demo.js';
import { s3Client } from './harness/minio.js';

it('the README demo encrypts, stores only ciphertext, and round-trips', async () => {
  const lines: string[] = [];
  const result = await runDemo(s3Client(inject('s3')), (line) => lines.push(line));
  expect(result).toMatchObject({ markerFoundInStore: false, roundTripOk: true });
  expect(result.storedBytes).toBeGreaterThan(result.bytes);
  expect(lines.join('\n')).toMatch(/matches/);
});
