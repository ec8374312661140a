// Library operations built on a client (key rotation, migration) work with its keyring, key policy,
// store client and audit, exactly as its command handlers do, without widening the public class.
import type { S3Client } from '@aws-sdk/client-s3';
import type { AuditEmitter } from '../audit/scope.js';
import type { HandlerContext } from './context.js';
import { customerKeyRequest } from './customer-keys.js';
import type { CustomerKeyHandling } from './request-options.js';

interface ClientInternals {
  readonly context: HandlerContext;
  readonly audit: AuditEmitter | undefined;
  readonly customerKeys: CustomerKeyHandling;
  readonly customerKeyEscrow: boolean;
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

/** The S3 client that lists for `client`: an EncryptingS3Client's store client, or a plain S3Client itself. */
export function storeClientOrSelf(client: unknown, where: string): S3Client {
  const internals = typeof client === 'object' && client !== null ? INTERNALS.get(client) : undefined;
  if (internals) return internals.context.inner;
  if (typeof (client as { send?: unknown } | null | undefined)?.send !== 'function') throw new TypeError(`${where}: client must be an S3Client or an EncryptingS3Client`);
  return client as S3Client;
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

/** One operation on one object, prepared as `send` prepares a command (see {@link objectOperationContext}). */
export interface ObjectOperation {
  readonly ctx: HandlerContext;
  /** The input to send: without SSE-C fields when they are handled client-side. */
  readonly input: unknown;
  /** Ends the operation's audit (see AuditScope.completing). */
  completing<T>(result: Promise<T>): Promise<T>;
  /** Zeroes the customer key the input presented; call once the operation settled. */
  release(): void;
}

/**
 * The handler context of `client` for one operation named `command` on the object `input` selects,
 * exactly as `send` builds it for a command: SSE-C fields handled as the client (or `customerKeys`)
 * says, and an audit scope. Throws a TypeError for malformed SSE-C fields.
 */
export function objectOperationContext(client: unknown, command: string, input: object, customerKeys: CustomerKeyHandling | undefined, where: string): ObjectOperation {
  const internals = internalsOf(client, where);
  const keys = customerKeyRequest(internals.context, command, input, customerKeys ?? internals.customerKeys, internals.customerKeyEscrow);
  const audit = internals.audit?.scope(command);
  return {
    ctx: audit ? { ...keys.ctx, audit } : keys.ctx,
    input: keys.input,
    completing: (result) => (audit ? audit.completing(result, input) : result),
    release: keys.release,
  };
}
