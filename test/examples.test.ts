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

it('the key-trust example signs, pins, binds a context and detects a rollback by identity', async () => {
  const { runKeyTrust } = await import('../examples/key-trust.js');
  const result = await runKeyTrust(s3Client(inject('s3')));
  expect(result.readBack).toBe('{"total": 120}');
  expect(result.objectId).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(result.rollbackRefusedWith).toBe('ERR_OBJECT_ID_MISMATCH');
  expect(result.missingContextRefusedWith).toMatch(/^ERR_(KEY_UNWRAP_FAILED|HEADER_AUTH_FAILED)$/);
});
