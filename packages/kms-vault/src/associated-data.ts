import type { EncryptionContext } from '@s3crypt/client';

/**
 * The Transit `associated_data` for an encryption context: base64 of the JSON array of its
 * `[key, value]` pairs sorted by key (UTF-16 code unit order), e.g. `[["a","1"],["b","2"]]`.
 * Any reader presenting the same context produces the same bytes, whatever its key order.
 *
 * @example
 * ```ts
 * transitAssociatedData({ b: '2', a: '1' }); // base64 of '[["a","1"],["b","2"]]'
 * ```
 */
export function transitAssociatedData(context: EncryptionContext): string {
  const pairs = Object.keys(context)
    .sort()
    .map((key) => [key, context[key]]);
  return Buffer.from(JSON.stringify(pairs), 'utf8').toString('base64');
}
