// Audit events into the structured logger an application already runs (pino, or anything with the
// same `info(object, message)` shape). pino's transports carry them on, OpenTelemetry included.
import type { AuditEvent, AuditSink } from './events.js';

/**
 * The part of a structured logger the sink uses: pino's `logger.info(mergingObject, message)`.
 *
 * @example
 * ```ts
 * const logger: AuditLogger = pino({ name: 'audit' });
 * ```
 */
export interface AuditLogger {
  info(object: object, message?: string): void;
}

/**
 * A sink that logs every event at info level as `{ audit: event }` with the message `message`. The
 * event is nested, not merged, because its `time` would collide with the logger's own field. The
 * logger's `info` is synchronous: an event counts as recorded once it is handed over, so fail-closed
 * durability is the logger's (pino's `sync: true` destination, or its transport's).
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * const audit = { sink: loggerSink(pino({ name: 's3crypt-audit' })) };
 * ```
 */
export function loggerSink(logger: AuditLogger, message = 's3crypt audit event'): AuditSink {
  if (typeof logger?.info !== 'function') throw new TypeError('loggerSink: logger must have an info(object, message) method');
  return {
    write: (event: AuditEvent) => {
      logger.info({ audit: event }, message);
    },
  };
}
