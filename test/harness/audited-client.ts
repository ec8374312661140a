// What `@s3crypt/client` resolves to in the test suite (vitest.config.ts aliases it here): the real
// package, except that every EncryptingS3Client also sends its audit events to the run's capture
// file and every key it meets is recorded for the final no-secrets grep (audit-capture.ts). A test's
// own audit sink still receives every event: the capture is teed beside it.
import type { S3Client } from '@aws-sdk/client-s3';
import {
  CustomerKeyring as RealCustomerKeyring,
  EncryptingS3Client as RealEncryptingS3Client,
  RawAesKeyring as RealRawAesKeyring,
  RsaKeyring as RealRsaKeyring,
  type AuditOptions,
  type AuditSink,
  type EncryptingS3ClientOptions,
  type RawAesKeyringOptions,
  type RsaKeyringOptions,
} from '../../packages/client/src/index.js';
import { captureSink, recordKeyObject, recordSecret, recordingKeyring } from './audit-recording.js';
import { createPrivateKey } from 'node:crypto';

export * from '../../packages/client/src/index.js';

function teed(sink: AuditSink, capture: AuditSink): AuditSink {
  return {
    write: (event) => {
      void capture.write(event);
      return sink.write(event);
    },
    ...(sink.close ? { close: () => sink.close!() } : {}),
  };
}

function auditWithCapture(audit: AuditOptions | undefined): AuditOptions | undefined {
  const capture = captureSink();
  if (!capture) return audit;
  if (!audit || typeof audit.sink?.write !== 'function') return audit ?? { sink: capture };
  return { ...audit, sink: teed(audit.sink, capture) };
}

async function recordS3Secret(client: S3Client | undefined): Promise<void> {
  const credentials = (client?.config as { credentials?: unknown } | undefined)?.credentials;
  if (typeof credentials !== 'function') return;
  const identity = (await (credentials as () => Promise<{ secretAccessKey?: string; sessionToken?: string }>)().catch(() => undefined)) ?? {};
  recordSecret('S3 secret access key', identity.secretAccessKey);
  recordSecret('S3 session token', identity.sessionToken);
}

export class EncryptingS3Client extends RealEncryptingS3Client {
  constructor(options: EncryptingS3ClientOptions) {
    const invalid = !options || typeof options !== 'object';
    const audit = invalid ? undefined : auditWithCapture(options.audit);
    super(invalid ? options : { ...options, keyring: recordingKeyring(options.keyring), ...(audit ? { audit } : {}) });
    if (invalid) return;
    recordKeyObject('signing key', options.signingKey);
    void recordS3Secret(options.client);
  }
}

export class RawAesKeyring extends RealRawAesKeyring {
  constructor(options: RawAesKeyringOptions) {
    super(options);
    if (options?.masterKey instanceof Uint8Array) recordSecret('raw AES master key', options.masterKey);
  }
}

export class CustomerKeyring extends RealCustomerKeyring {
  constructor(key: Uint8Array) {
    super(key);
    if (key instanceof Uint8Array) recordSecret('customer key', key);
  }
}

export class RsaKeyring extends RealRsaKeyring {
  constructor(options: RsaKeyringOptions) {
    super(options);
    const privateKey = options?.privateKey;
    if (privateKey !== undefined) {
      try {
        recordKeyObject('RSA private key', typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey);
      } catch {
        // the real constructor accepted it, so this does not happen; a key we cannot parse is not recorded
      }
    }
  }
}
