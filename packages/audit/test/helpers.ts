// Shared helpers for the audit package's tests: a temp directory, keys, events, and a log written with them.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent } from '@s3crypt/client';
import { TamperEvidentLog, type TamperEvidentLogOptions } from '@s3crypt/audit';

export const tempDirectory = () => mkdtempSync(join(tmpdir(), 's3crypt-audit-'));
export const ed25519 = () => generateKeyPairSync('ed25519');

export function event(n: number): AuditEvent {
  return { schema: 1, time: new Date(Date.UTC(2026, 10, 24, 8, 0, n % 60)).toISOString(), operation: 'unwrap', outcome: 'success', bucket: 'b', key: `k/${n}`, requestId: `r${n}` };
}

/** Writes `count` events (sequentially) into a fresh log in `directory`, and closes it. */
export async function writeLog(directory: string, signingKey: TamperEvidentLogOptions['signingKey'], count: number, options: Partial<TamperEvidentLogOptions> = {}) {
  const log = await TamperEvidentLog.open({ directory, signingKey, ...options });
  for (let n = 0; n < count; n++) await log.write(event(n));
  await log.close();
}

export const segmentFiles = (directory: string) => readdirSync(directory).filter((name) => name.endsWith('.jsonl')).sort();
