// Library operations built on a client (key rotation, migration) work with its keyring, key policy,
// store client and audit, exactly as its command handlers do, without widening the public class.
import type { S3Client } from '@aws-sdk/client-s3';
import type { AuditEmitter } from '../audit/scope.js';
import type { HandlerContext } from './context.js';

interface ClientInternals {
  readonly context: HandlerContext;
  readonly audit: AuditEmitter | undefined;
}

const INTERNALS = new WeakMap<object, ClientInternals>();

export function registerInternals(client: object, internals: ClientInternals): void {
  INTERNALS.set(client, internals);
}

function internalsOf(client: unknown, where: string): ClientInternals {
  const internals = typeof client === 'object' && client !== null ? INTERNALS.get(client) : undefined;
  if (!internals) throw new TypeError(`${where}: client must be an EncryptingS3Client`);
  return internals;
}

/** The S3 client `client` sends to the store with, for requests that involve no key (listings). */
export function storeClientOf(client: unknown, where: string): S3Client {
  return internalsOf(client, where).context.inner;
}

/**
 * The handler context of `client` for one operation named `command` (its audit events say so), and
 * the function that ends that operation's audit (see AuditScope.completing).
 */
export function operationContext(client: unknown, command: string, where: string): { ctx: HandlerContext; completing: <T>(result: Promise<T>, input: unknown) => Promise<T> } {
  const internals = internalsOf(client, where);
  const audit = internals.audit?.scope(command);
  return {
    ctx: audit ? { ...internals.context, audit } : internals.context,
    completing: (result, input) => (audit ? audit.completing(result, input) : result),
  };
}
