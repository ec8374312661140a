// The suite-wide no-secrets check (harness/audit-capture.ts) must find what it looks for: a key in
// any encoding, test plaintext, a field outside the schema, and key operations without any event.
// The capture files here are written by hand; the real ones are filled by every test client.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkCapture } from './harness/audit-capture.js';

const dir = mkdtempSync(join(tmpdir(), 's3crypt-no-secrets-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function capture(events: object[], secrets: { kind: string; secret: Buffer | string }[]) {
  n++;
  const files = { events: join(dir, `events-${n}.jsonl`), secrets: join(dir, `secrets-${n}.jsonl`) };
  writeFileSync(files.events, events.map((event) => `${JSON.stringify(event)}\n`).join(''));
  const line = ({ kind, secret }: { kind: string; secret: Buffer | string }) =>
    `${JSON.stringify({ kind, hex: Buffer.from(secret).toString('hex'), text: typeof secret === 'string' })}\n`;
  writeFileSync(files.secrets, secrets.map(line).join(''));
  return checkCapture(files);
}

const ok = { schema: 1, time: '2026-01-01T00:00:00.000Z', operation: 'unwrap', outcome: 'success', keks: [{ providerId: 'raw-aes', keyId: 'k' }] };

describe('the no-secrets check', () => {
  const key = randomBytes(32);
  for (const [name, form] of [
    ['hex', key.toString('hex')],
    ['upper-case hex', key.toString('hex').toUpperCase()],
    ['base64', key.toString('base64')],
    ['base64url', key.toString('base64url')],
    ['a JSON byte array', JSON.stringify([...key])],
  ] as const) {
    it(`finds a data key leaked as ${name}`, () => {
      const result = capture([ok, { ...ok, key: `x${form}y` }], [{ kind: 'data key', secret: key }]);
      expect(result.problems).toEqual(['event 2 contains a data key']);
    });
  }

  it('finds a secret string (the S3 secret key) as text, and test plaintext', () => {
    const result = capture([{ ...ok, principal: 'my-s3-secret-value' }, { ...ok, key: 'S3CRYPT-PLAINTEXT-MARKER' }], [{ kind: 'S3 secret access key', secret: 'my-s3-secret-value' }]);
    expect(result.problems).toEqual(['event 1 contains a S3 secret access key', 'event 2 contains test plaintext']);
  });

  it('finds fields outside the schema, in the event and in its KEKs', () => {
    const result = capture([{ ...ok, dataKey: 'x', keks: [{ providerId: 'p', keyId: 'k', ciphertext: 'c' }] }], []);
    expect(result.problems).toEqual(['event 1: unknown field dataKey', 'event 1: unknown kek field ciphertext']);
  });

  it('fails when data keys were used but no event was collected, and passes a clean capture', () => {
    expect(capture([], [{ kind: 'data key', secret: key }]).problems).toEqual(['1 data keys were used through test clients, but no audit event was collected']);
    expect(capture([ok], [{ kind: 'data key', secret: key }]).problems).toEqual([]);
  });
});
