/** Socket-level failure codes of Node (and undici): the service could not be reached at all. */
const CONNECTION_FAILURE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

interface ErrorShape {
  code?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/**
 * The socket error code (`ECONNREFUSED`, …) anywhere in an error's `cause` chain or `AggregateError`
 * list, for KMS adapters deciding between "unavailable" and other failures. `undefined` if none.
 *
 * @example
 * ```ts
 * if (connectionFailureCode(error)) throw new KmsError('ERR_KMS_UNAVAILABLE', keyId, 'KMS unreachable', { cause: error });
 * ```
 */
export function connectionFailureCode(error: unknown, depth = 0): string | undefined {
  if (depth > 5 || typeof error !== 'object' || error === null) return undefined;
  const shape = error as ErrorShape;
  if (typeof shape.code === 'string' && CONNECTION_FAILURE_CODES.has(shape.code)) return shape.code;
  if (Array.isArray(shape.errors)) {
    for (const inner of shape.errors) {
      const found = connectionFailureCode(inner, depth + 1);
      if (found) return found;
    }
  }
  return connectionFailureCode(shape.cause, depth + 1);
}
