// RFC 8785 (JCS) for the values the log holds: objects, arrays, strings, finite numbers, booleans and
// null. Property names sort by UTF-16 code units (JavaScript's default string order) and strings and
// numbers serialize as ECMAScript's JSON.stringify does, which is what RFC 8785 specifies; so one value
// has exactly one text and a record's hash is well defined.

/**
 * The canonical JSON text of `value` (RFC 8785). Properties whose value is `undefined` are left out, as
 * `JSON.stringify` does; anything JSON cannot represent (a function, a bigint, NaN) is a `TypeError`.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [true, 'x'] }); // '{"a":[true,"x"],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no representation for a non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item: unknown) => canonicalJson(item ?? null)).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([name, item]) => `${JSON.stringify(name)}:${canonicalJson(item)}`).join(',')}}`;
  }
  throw new TypeError(`canonical JSON has no representation for a ${typeof value}`);
}
