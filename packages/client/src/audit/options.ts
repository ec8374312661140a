// The client's `audit` option: where events go, who the principal is, and what a full buffer does.
import type { AuditDelivery } from './buffer.js';
import type { AuditSink } from './events.js';

/**
 * Audit logging for an `EncryptingS3Client`: one event per key operation (docs/AUDIT.md, "Events"),
 * buffered in memory and handed to `sink` off the data path.
 *
 * @example
 * ```ts
 * const audit: AuditOptions = { sink: new JsonLinesSink({ path: '/var/log/s3crypt/audit.jsonl' }), whenFull: 'fail-closed' };
 * const client = new EncryptingS3Client({ client: new S3Client({}), keyring, audit });
 * ```
 */
export interface AuditOptions {
  /** Receives every event, in emission order. */
  readonly sink: AuditSink;
  /**
   * Who acts, as recorded on every event. A string, or a function called once per `send` (e.g. the
   * user of the current request). Default: the access key id of the wrapped S3 client's credentials,
   * resolved once (never the secret key). It is what the application reports, not a proof of identity.
   */
  readonly principal?: string | (() => Promise<string>);
  /** Most events emitted and not yet accepted by the sink. Default 1024 (1 to 1 048 576). */
  readonly bufferSize?: number;
  /**
   * What an operation does when the buffer is full, and whether it waits for the sink:
   * - `'block'` (default): it waits for room, then goes on; it never waits for the sink otherwise.
   *   A failing sink loses events (counted in `auditStats().failed`) but fails no operation.
   * - `'drop'`: it never waits; the event is dropped and counted in `auditStats().dropped`.
   * - `'fail-closed'` (compliance): it waits for room, and its promise resolves only once the sink
   *   has accepted all of its events (with {@link JsonLinesSink}: written and fsynced). If the sink
   *   fails, the operation fails with `ERR_AUDIT_FAILED` ({@link AuditError}): a read then releases
   *   no plaintext; a write may have stored its object (`error.stored`), which the error names.
   */
  readonly whenFull?: AuditDelivery;
}

export const DEFAULT_AUDIT_BUFFER_SIZE = 1024;
const MAX_AUDIT_BUFFER_SIZE = 1 << 20;
const DELIVERIES: readonly AuditDelivery[] = ['block', 'drop', 'fail-closed'];

/** The validated option; API misuse is a TypeError. */
export interface ResolvedAuditOptions {
  readonly sink: AuditSink;
  readonly principal: string | (() => Promise<string>) | undefined;
  readonly bufferSize: number;
  readonly whenFull: AuditDelivery;
}

export function resolveAuditOptions(option: AuditOptions): ResolvedAuditOptions {
  if (typeof option?.sink?.write !== 'function') throw new TypeError('EncryptingS3Client: audit.sink must have a write(event) method');
  const { principal, bufferSize = DEFAULT_AUDIT_BUFFER_SIZE, whenFull = 'block' } = option;
  if (principal !== undefined && typeof principal !== 'string' && typeof principal !== 'function') {
    throw new TypeError('EncryptingS3Client: audit.principal must be a string or a function returning a promise of one');
  }
  if (!Number.isInteger(bufferSize) || bufferSize < 1 || bufferSize > MAX_AUDIT_BUFFER_SIZE) {
    throw new TypeError(`EncryptingS3Client: audit.bufferSize must be an integer from 1 to ${MAX_AUDIT_BUFFER_SIZE}`);
  }
  if (!DELIVERIES.includes(whenFull)) throw new TypeError(`EncryptingS3Client: audit.whenFull must be one of ${DELIVERIES.map((d) => `'${d}'`).join(', ')}`);
  return { sink: option.sink, principal, bufferSize, whenFull };
}
