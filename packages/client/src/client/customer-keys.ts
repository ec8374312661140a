// SSE-C-style per-request keys handled client-side (docs/SECURITY.md, "Customer keys"): the SSE-C
// fields of a command are validated as S3 would, removed from everything sent to the store, and the
// command runs with the key as its object's key-encryption key (a CustomerKeyring) and a key policy
// that trusts exactly that key.
import { createHash, timingSafeEqual } from 'node:crypto';
import { CustomerKeyError } from '../errors.js';
import { CUSTOMER_KEY_PROVIDER_ID, CustomerKeyring } from '../keyrings/customer-key.js';
import type { EncryptedDataKey } from '../keyrings/keyring.js';
import { MultiKeyring } from '../keyrings/multi.js';
import { objectName, type HandlerContext, type ObjectKeys } from './context.js';
import type { UploadState } from './multipart-state.js';
import type { CustomerKeyHandling } from './request-options.js';

interface SseCFields {
  readonly algorithm: string;
  readonly key: string;
  readonly md5: string;
}

const OBJECT_FIELDS: SseCFields = { algorithm: 'SSECustomerAlgorithm', key: 'SSECustomerKey', md5: 'SSECustomerKeyMD5' };
const SOURCE_FIELDS: SseCFields = { algorithm: 'CopySourceSSECustomerAlgorithm', key: 'CopySourceSSECustomerKey', md5: 'CopySourceSSECustomerKeyMD5' };
const ALL_FIELDS = [OBJECT_FIELDS, SOURCE_FIELDS].flatMap((fields) => [fields.algorithm, fields.key, fields.md5]);
const KEY_LENGTH = 32;

/** The SDK's rule (ssecMiddleware): a string that is base64 of exactly 32 bytes is base64, any other string is the raw key. */
function isBase64Key(value: string): boolean {
  return /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(value) && Buffer.from(value, 'base64').length === KEY_LENGTH;
}

/** The key bytes, in a buffer of our own (the caller zeroes it). */
function keyBytes(value: unknown, name: string, command: string): Buffer {
  let bytes: Buffer;
  if (typeof value === 'string') bytes = isBase64Key(value) ? Buffer.from(value, 'base64') : Buffer.from(value, 'utf8');
  else if (ArrayBuffer.isView(value)) bytes = Buffer.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
  else throw new TypeError(`${command}: ${name} must be a string (the key's base64, or its 32 raw characters) or a Uint8Array`);
  if (bytes.length !== KEY_LENGTH) {
    bytes.fill(0);
    throw new TypeError(`${command}: ${name} must be a 256-bit key (32 bytes, or their base64)`);
  }
  return bytes;
}

function md5Matches(md5: unknown, key: Buffer): boolean {
  if (typeof md5 !== 'string') return false;
  const given = Buffer.from(md5, 'base64');
  const expected = createHash('md5').update(key).digest();
  return given.length === expected.length && given.toString('base64') === md5 && timingSafeEqual(given, expected);
}

/** The customer key one side of a request presents, validated as S3 validates SSE-C fields. */
function presentedKey(input: Record<string, unknown>, fields: SseCFields, command: string): CustomerKeyring | undefined {
  const algorithm = input[fields.algorithm];
  const md5 = input[fields.md5];
  if (input[fields.key] === undefined) {
    if (algorithm !== undefined || md5 !== undefined) throw new TypeError(`${command}: ${fields.algorithm} and ${fields.md5} need ${fields.key}`);
    return undefined;
  }
  if (algorithm !== 'AES256') throw new TypeError(`${command}: ${fields.key} needs ${fields.algorithm} 'AES256'`);
  const bytes = keyBytes(input[fields.key], fields.key, command);
  try {
    if (md5 !== undefined && !md5Matches(md5, bytes)) throw new TypeError(`${command}: ${fields.md5} is not the base64 MD5 digest of ${fields.key}`);
    return new CustomerKeyring(bytes);
  } finally {
    bytes.fill(0);
  }
}

function withoutSseCFields(fields: Record<string, unknown>): Record<string, unknown> {
  const stripped = { ...fields };
  for (const name of ALL_FIELDS) delete stripped[name];
  return stripped;
}

/**
 * A command the client passes through, without SSE-C fields when they are handled client-side:
 * some carry them only because a helper spread its parameters (lib-storage's PutObjectTagging), and
 * any the store would receive would leak the key. The caller's command is left as it is: the one
 * sent is a view of it with another `input` (its middleware stack is the caller's).
 */
export function passThroughCommand<C extends { readonly input?: unknown }>(command: C, handling: CustomerKeyHandling): C {
  const fields = command.input;
  if (handling === 'store' || typeof fields !== 'object' || fields === null) return command;
  if (!ALL_FIELDS.some((name) => (fields as Record<string, unknown>)[name] !== undefined)) return command;
  return Object.create(command, { input: { value: withoutSseCFields(fields as Record<string, unknown>), enumerable: true } }) as C;
}

/** The keys of an object written or read under `key`; `escrow` also wraps new data keys under the client's keyring. */
function customerObjectKeys(ctx: HandlerContext, key: CustomerKeyring, escrow: boolean): ObjectKeys {
  return { keyring: escrow ? new MultiKeyring({ generator: key, children: [ctx.keyring] }) : key, policy: ctx.policy.forCustomerKey(key) };
}

/** One command with its SSE-C fields handled. */
export interface CustomerKeyRequest {
  readonly ctx: HandlerContext;
  /** The input to handle: without any SSE-C field when they are handled client-side. */
  readonly input: unknown;
  /** Zeroes the keys the request presented; call once the command has settled. */
  release(): void;
}

/**
 * Handles the SSE-C fields of `command`'s `input`. `'store'`: nothing changes. `'client-side'`: the
 * fields are validated (TypeError on misuse), removed, and the context's keys become the presented
 * key's: for the object (`SSECustomer*`, the destination of a copy) and, for CopyObject, the source
 * (`CopySourceSSECustomer*`). A side without a key keeps the client's keyring and policy.
 */
export function customerKeyRequest(ctx: HandlerContext, command: string, input: unknown, handling: CustomerKeyHandling, escrow: boolean): CustomerKeyRequest {
  if (handling === 'store' || typeof input !== 'object' || input === null) return { ctx, input, release: () => undefined };
  const fields = input as Record<string, unknown>;
  const objectKey = presentedKey(fields, OBJECT_FIELDS, command);
  let sourceKey: CustomerKeyring | undefined;
  try {
    sourceKey = command === 'CopyObject' ? presentedKey(fields, SOURCE_FIELDS, command) : undefined;
  } catch (error) {
    objectKey?.destroy();
    throw error;
  }
  const stripped = withoutSseCFields(fields);
  let next: HandlerContext = objectKey ? { ...ctx, ...customerObjectKeys(ctx, objectKey, escrow), customerKey: objectKey } : ctx;
  if (command === 'CopyObject' && (objectKey || sourceKey)) {
    next = { ...next, source: sourceKey ? { keyring: sourceKey, policy: ctx.policy.forCustomerKey(sourceKey) } : { keyring: ctx.keyring, policy: ctx.policy } };
  }
  return {
    ctx: next,
    input: stripped,
    release: () => {
      objectKey?.destroy();
      sourceKey?.destroy();
    },
  };
}

/** The fingerprint of the customer key among wrapped keys a request's own customer key made. */
export function customerKeyIdOf(ctx: HandlerContext, encryptedDataKeys: readonly EncryptedDataKey[]): string | undefined {
  return ctx.customerKey ? encryptedDataKeys.find((edk) => edk.providerId === CUSTOMER_KEY_PROVIDER_ID)?.keyId : undefined;
}

/**
 * UploadPart (`required`) and CompleteMultipartUpload: the key the request presents must be the one
 * the upload was created under, and none may be presented for an upload under the client's keyring.
 * Checked before any part byte is sent; a refusal is recorded as a `customer-key` audit event.
 */
export async function checkUploadKey(ctx: HandlerContext, state: Pick<UploadState, 'bucket' | 'key' | 'customerKeyId'>, required: boolean, command: string): Promise<void> {
  const presented = ctx.customerKey;
  const name = objectName(state.bucket, state.key);
  let refusal: CustomerKeyError | undefined;
  if (state.customerKeyId === undefined) {
    if (presented) refusal = new CustomerKeyError('ERR_CUSTOMER_KEY_NOT_APPLICABLE', `${command}: the upload of ${name} is not under a customer key; send it without SSECustomerKey`);
  } else if (!presented) {
    if (required) refusal = new CustomerKeyError('ERR_CUSTOMER_KEY_REQUIRED', `${command}: the upload of ${name} is under a customer key; send it with every part (SSECustomerKey)`);
  } else if (!presented.recognizes(state.customerKeyId)) {
    refusal = new CustomerKeyError('ERR_CUSTOMER_KEY_MISMATCH', `${command}: the customer key given is not the one the upload of ${name} was created with`);
  }
  if (!refusal) return;
  await ctx.audit?.emit({
    operation: 'customer-key',
    outcome: 'refused',
    reason: refusal.code,
    bucket: state.bucket,
    key: state.key,
    ...(state.customerKeyId !== undefined ? { keyFingerprint: state.customerKeyId } : {}),
  });
  throw refusal;
}
