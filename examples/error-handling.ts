// Handling each kind of failure. `classifyFailure` is the part to copy: every s3crypt failure is an
// S3CryptError with a stable `code` (a string-literal union, so `switch (err.code)` narrows), and the
// store's own errors (a missing object) stay the SDK's. Branch on `code`, never on message text;
// messages are safe to log (no key material), but do not send them to your own clients.
//
// `runErrorTour` provokes each kind against a real bucket and classifies what it gets:
// a tampered object, a reader with the wrong key, an object written without s3crypt, a missing
// object, an unreachable KMS, and an object replaced while a key rotation was working on it.
//
// Run: S3_BUCKET=scratch-bucket node --import tsx examples/error-handling.ts   (writes a few objects under error-tour/)
// (S3_ENDPOINT for MinIO or another S3-compatible store; credentials from the usual AWS variables.)
import { GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { EncryptingS3Client, RawAesKeyring, rotateObject, S3CryptError, type Keyring, type S3CryptErrorCode } from '@s3crypt/client';
import { VaultTransitKeyring } from '@s3crypt/kms-vault';

export type FailureKind =
  | 'tampered' // the stored bytes or envelope were modified: never retry, quarantine, alert
  | 'key-refused' // the object is under a key this reader does not hold or does not trust
  | 'not-encrypted' // written without s3crypt (see allowPlaintextReads for a migration)
  | 'not-found' // the store has no such object (the SDK's NoSuchKey / NotFound)
  | 'kms-unavailable' // the KMS did not answer or throttled: retry with back-off
  | 'kms-key-unusable' // the KMS key is disabled, deleted or not ours to use: an operator must act
  | 'changed' // a concurrent writer replaced the object during a rotation: run again
  | 'customer-key' // an SSE-C style customer key is missing or wrong: the caller's mistake
  | 'other';

export interface Classification {
  readonly kind: FailureKind;
  /** The s3crypt code, or the store's error name. */
  readonly code: string;
  readonly retryable: boolean;
  /** What an HTTP service in front of the bucket would answer (details stay in your logs). */
  readonly httpStatus: number;
}

/** The switch to copy: what a failure means for the caller. */
export function classifyCode(code: S3CryptErrorCode): Omit<Classification, 'code'> {
  switch (code) {
    case 'ERR_DECRYPTION_FAILED':
    case 'ERR_HEADER_AUTH_FAILED':
    case 'ERR_KEY_COMMITMENT_MISMATCH':
    case 'ERR_OBJECT_TRUNCATED':
    case 'ERR_OBJECT_MALFORMED':
    case 'ERR_ENVELOPE_MALFORMED':
    case 'ERR_SIGNATURE_INVALID':
    case 'ERR_OBJECT_ID_MISMATCH': // an older or another object served for this one (rollback)
    case 'ERR_RESPONSE_TOO_LARGE':
      return { kind: 'tampered', retryable: false, httpStatus: 502 };
    case 'ERR_KEY_NOT_ALLOWED': // the key policy does not trust the object's key (checked before any KMS call)
    case 'ERR_NO_MATCHING_KEY': // no keyring of this reader holds any of the object's keys
    case 'ERR_KEY_UNWRAP_FAILED': // a key of that name, but not the one that wrapped it
    case 'ERR_KMS_WRONG_KEY':
    case 'ERR_UNSIGNED_OBJECT':
    case 'ERR_FORMAT_VERSION_NOT_ALLOWED':
    case 'ERR_TOO_MANY_ENCRYPTED_KEYS':
      return { kind: 'key-refused', retryable: false, httpStatus: 500 };
    case 'ERR_NOT_ENCRYPTED':
      return { kind: 'not-encrypted', retryable: false, httpStatus: 500 };
    case 'ERR_KMS_UNAVAILABLE':
    case 'ERR_KMS_THROTTLED':
      return { kind: 'kms-unavailable', retryable: true, httpStatus: 503 };
    case 'ERR_KMS_KEY_DISABLED': // also what crypto-shredded data looks like
    case 'ERR_KMS_KEY_NOT_FOUND':
    case 'ERR_KMS_ACCESS_DENIED':
      return { kind: 'kms-key-unusable', retryable: false, httpStatus: 500 };
    case 'ERR_OBJECT_CHANGED':
      return { kind: 'changed', retryable: true, httpStatus: 409 };
    case 'ERR_CUSTOMER_KEY_REQUIRED':
    case 'ERR_CUSTOMER_KEY_MISMATCH':
    case 'ERR_CUSTOMER_KEY_NOT_APPLICABLE':
      return { kind: 'customer-key', retryable: false, httpStatus: 403 };
    default:
      // New codes arrive in minor releases: always keep a default.
      return { kind: 'other', retryable: false, httpStatus: 500 };
  }
}

/** Any error from `send` (or from reading a GetObject body) to its classification. */
export function classifyFailure(error: unknown): Classification {
  if (error instanceof S3CryptError) return { code: error.code, ...classifyCode(error.code) };
  if (error instanceof S3ServiceException) {
    if (error.name === 'NoSuchKey' || error.name === 'NotFound') return { kind: 'not-found', code: error.name, retryable: false, httpStatus: 404 };
    if (error.name === 'InvalidRange') return { kind: 'other', code: error.name, retryable: false, httpStatus: 416 };
    return { kind: 'other', code: error.name, retryable: error.$retryable !== undefined || (error.$metadata.httpStatusCode ?? 0) >= 500, httpStatus: 502 };
  }
  return { kind: 'other', code: 'unknown', retryable: false, httpStatus: 500 };
}

export interface ErrorTourOptions {
  readonly bucket: string;
  /** A Vault address nothing answers on, to show a KMS outage. */
  readonly unreachableKmsEndpoint?: string;
}

/** Provokes each failure kind once and classifies it. */
export async function runErrorTour(s3: S3Client, options: ErrorTourOptions, print: (line: string) => void = console.log): Promise<Record<string, Classification>> {
  const { bucket } = options;
  const keyring = new RawAesKeyring({ keyName: 'tour-key', masterKey: randomBytes(32) });
  const client = new EncryptingS3Client({ client: s3, keyring });
  const results: Record<string, Classification> = {};
  const attempt = async (scenario: string, action: () => Promise<unknown>) => {
    const outcome = await action().then(
      () => undefined,
      (error: unknown) => classifyFailure(error),
    );
    if (!outcome) throw new Error(`${scenario}: expected a failure`);
    results[scenario] = outcome;
    print(`${scenario}: ${outcome.code} → ${outcome.kind}, HTTP ${outcome.httpStatus}${outcome.retryable ? ', retry later' : ''}`);
  };
  const read = (reader: S3Client, key: string) => async () => (await reader.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray();

  // Tampered: one bit of the stored ciphertext flipped (here by us, with the plain client, as a hostile store or bit rot would).
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'error-tour/tampered', Body: 'an invoice'.repeat(100) }));
  const stored = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'error-tour/tampered' }));
  const bytes = Buffer.from(await stored.Body!.transformToByteArray());
  bytes[100]! ^= 1;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'error-tour/tampered', Body: bytes, Metadata: stored.Metadata }));
  await attempt('tampered', read(client, 'error-tour/tampered'));

  // Wrong key: a reader whose key policy does not trust the object's key refuses it before any
  // keyring or KMS call; one that trusts any key it can use ('discovery') finds none that fits.
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'error-tour/other-key', Body: 'for tour-key holders' }));
  const stranger = new RawAesKeyring({ keyName: 'another-key', masterKey: randomBytes(32) });
  await attempt('wrong key', read(new EncryptingS3Client({ client: s3, keyring: stranger }), 'error-tour/other-key'));
  await attempt('wrong key, discovery', read(new EncryptingS3Client({ client: s3, keyring: stranger, keyPolicy: { trustedKeks: 'discovery' } }), 'error-tour/other-key'));

  // Written without s3crypt.
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'error-tour/plaintext', Body: 'legacy' }));
  await attempt('plaintext object', read(client, 'error-tour/plaintext'));

  // Missing: the SDK's own NoSuchKey, as without s3crypt.
  await attempt('missing object', read(client, 'error-tour/does-not-exist'));

  // KMS down: the write fails before anything is uploaded.
  const unreachable = new VaultTransitKeyring({ keyName: 's3crypt', endpoint: options.unreachableKmsEndpoint ?? 'http://127.0.0.1:1', token: 'unused' });
  await attempt('KMS unavailable', () => new EncryptingS3Client({ client: s3, keyring: unreachable }).send(new PutObjectCommand({ Bucket: bucket, Key: 'error-tour/kms-down', Body: 'x' })));

  // Changed during a rotation: another writer replaces the object between the rotation's read and
  // its conditional copy, so the rotation leaves the new object alone. Rotation results carry the
  // code rather than throwing; a writer is simulated here by a keyring that writes first.
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'error-tour/rotating', Body: 'version 1' }));
  const newKey = new RawAesKeyring({ keyName: 'tour-key-2', masterKey: randomBytes(32) });
  const racing = writingFirst(newKey, () => client.send(new PutObjectCommand({ Bucket: bucket, Key: 'error-tour/rotating', Body: 'version 2' })));
  const rotation = await rotateObject(client, { bucket, key: 'error-tour/rotating' }, { to: racing });
  if (rotation.outcome === 'failed' && rotation.reason.code.startsWith('ERR_')) {
    const outcome = { code: rotation.reason.code, ...classifyCode(rotation.reason.code as S3CryptErrorCode) };
    results['changed during rotation'] = outcome;
    print(`changed during rotation: ${outcome.code} → ${outcome.kind}${outcome.retryable ? ', run the rotation again' : ''}`);
  }
  return results;
}

/** A keyring that lets `write` run once before its first wrap: a concurrent writer, for the tour. */
function writingFirst(keyring: Keyring, write: () => Promise<unknown>): Keyring {
  let pending: Promise<unknown> | undefined;
  return {
    kekMatchers: () => keyring.kekMatchers?.(),
    onDecrypt: (request) => keyring.onDecrypt(request),
    async onEncrypt(request) {
      await (pending ??= write());
      return keyring.onEncrypt(request);
    },
  };
}

async function main(): Promise<void> {
  const bucket = process.env.S3_BUCKET;
  if (!bucket) throw new Error('set S3_BUCKET to a scratch bucket');
  const s3 = new S3Client({ region: process.env.AWS_REGION ?? 'us-east-1', ...(process.env.S3_ENDPOINT ? { endpoint: process.env.S3_ENDPOINT, forcePathStyle: true } : {}) });
  await runErrorTour(s3, { bucket });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
