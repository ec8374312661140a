import { quoteUntrusted } from '../untrusted-text.js';

// Long enough for a library's summary of its retries ("Total timeout … exceeded … retrying error … ECONNREFUSED").
const MAX_CAUSE_LENGTH = 300;

interface ErrorShape {
  name?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
}

function firstMessage(error: unknown, depth: number): string | undefined {
  if (depth > 5 || typeof error !== 'object' || error === null) return typeof error === 'string' && error.length > 0 ? error : undefined;
  const shape = error as ErrorShape;
  if (typeof shape.message === 'string' && shape.message.length > 0) return shape.message;
  // AggregateError (a connection refused on every address) carries its message in its members.
  const inner = Array.isArray(shape.errors) ? (shape.errors as unknown[]) : [];
  for (const member of [...inner, shape.cause]) {
    const found = firstMessage(member, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/**
 * The root cause's own words, for a KMS adapter's error message: the error's `message`, or the first
 * one in its `AggregateError` list or `cause` chain. It may carry a service's text, so it is quoted
 * with every character outside printable ASCII escaped, and cut to 300 characters.
 *
 * @example
 * ```ts
 * throw new KmsError('ERR_KMS_FAILED', keyId, `KMS Encrypt failed: ${causeMessage(error)}`, { cause: error }); // … failed: "Region is missing"
 * ```
 */
export function causeMessage(error: unknown): string {
  const message = firstMessage(error, 0);
  if (message !== undefined) return quoteUntrusted(message, MAX_CAUSE_LENGTH);
  const name = (error as ErrorShape | undefined)?.name;
  return typeof name === 'string' && name.length > 0 ? `${quoteUntrusted(name)} without a message` : 'no message';
}
