// The simplest sink: a function of the application's, called with every event in order.
import type { AuditEvent, AuditSink } from './events.js';

/**
 * A sink that calls `onEvent` with every event, in emission order. Return a promise to make the
 * client wait for it in fail-closed mode (the event counts as recorded when it resolves); a throw or
 * rejection is a sink failure.
 *
 * @example
 * ```ts
 * const events: AuditEvent[] = [];
 * const client = new EncryptingS3Client({ client: s3, keyring, audit: { sink: callbackSink((event) => void events.push(event)) } });
 * ```
 */
export function callbackSink(onEvent: (event: AuditEvent) => void | Promise<void>): AuditSink {
  if (typeof onEvent !== 'function') throw new TypeError('callbackSink: onEvent must be a function');
  return { write: (event) => onEvent(event) };
}
