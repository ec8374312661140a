// Worker side of the suite-wide no-secrets check (audit-capture.ts): every audit event a test client
// emits is appended to this run's events file, and every secret the suite handles (master keys, data
// keys, private keys, the S3 secret key) to its secrets file, so the last step can grep the one for
// the other. Both files are named by the global setup and handed over with `inject`.
import { appendFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { inject } from 'vitest';
import type { AuditEvent, AuditSink, Keyring } from '@s3crypt/client';

export interface AuditCaptureFiles {
  readonly events: string;
  readonly secrets: string;
}

function files(): AuditCaptureFiles | undefined {
  try {
    return inject('auditCapture');
  } catch {
    return undefined; // outside a vitest worker (bench, examples run by hand): nothing to record
  }
}

/** Records a secret (bytes or text) for the final grep. */
export function recordSecret(kind: string, secret: Uint8Array | string | undefined): void {
  const target = files();
  if (!target || secret === undefined || secret.length === 0) return;
  const hex = typeof secret === 'string' ? Buffer.from(secret, 'utf8').toString('hex') : Buffer.from(secret).toString('hex');
  appendFileSync(target.secrets, `${JSON.stringify({ kind, hex, text: typeof secret === 'string' })}\n`, { mode: 0o600 });
}

/** Records a private or secret KeyObject in the forms a leak could take (DER, and the JWK's secret members). */
export function recordKeyObject(kind: string, key: KeyObject | undefined): void {
  if (!key) return;
  if (key.type === 'secret') return recordSecret(kind, key.export());
  if (key.type !== 'private') return;
  recordSecret(`${kind} (pkcs8)`, key.export({ format: 'der', type: 'pkcs8' }));
  const jwk = key.export({ format: 'jwk' }) as Record<string, string | undefined>;
  for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) {
    if (jwk[member]) recordSecret(`${kind} (jwk ${member})`, Buffer.from(jwk[member], 'base64url'));
  }
}

/** The sink every test client writes to: one JSON line per event, synchronously, so none is lost at exit. */
export function captureSink(): AuditSink | undefined {
  const target = files();
  if (!target) return undefined;
  return { write: (event: AuditEvent) => appendFileSync(target.events, `${JSON.stringify(event)}\n`, { mode: 0o600 }) };
}

/** `keyring`, recording every plaintext data key it generates or unwraps. */
export function recordingKeyring(keyring: Keyring): Keyring {
  if (typeof keyring?.onEncrypt !== 'function' || typeof keyring.onDecrypt !== 'function') return keyring;
  return {
    async onEncrypt(request) {
      const result = await keyring.onEncrypt(request);
      if (result?.dataKey instanceof Uint8Array) recordSecret('data key', result.dataKey);
      return result;
    },
    async onDecrypt(request) {
      const dataKey = await keyring.onDecrypt(request);
      if (dataKey instanceof Uint8Array) recordSecret('data key', dataKey);
      return dataKey;
    },
    kekMatchers: () => keyring.kekMatchers?.(),
  };
}
