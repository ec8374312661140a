import { describe, expect, it } from 'vitest';
import { edkKeyId, edkKeyIdPrefix, MAX_VERSION, parseEdkKeyId, parseVersionKey, versionKey } from '../src/lib/names.js';

describe('branch key names', () => {
  it('stores versions so that the newest sorts first, and reads exactly those names back', () => {
    const keys = [1, 2, 9, 10, 11, 100, 12345].map((version) => versionKey('p/', 'orders', version));
    expect(keys[0]).toBe('p/orders/2147483646-v1');
    expect([...keys].sort()).toEqual([...keys].reverse());
    for (const [index, version] of [1, 2, 9, 10, 11, 100, 12345].entries()) expect(parseVersionKey('p/', 'orders', keys[index]!)).toBe(version);
    expect(parseVersionKey('p/', 'orders', versionKey('p/', 'orders', MAX_VERSION))).toBe(MAX_VERSION);
  });

  it('refuses names that are not exactly a version of this branch key', () => {
    for (const key of [
      'p/orders/2147483646-v2', // number and version disagree
      'p/orders/2147483646-v01',
      'p/orders/0000000000-v0',
      'p/orders/2147483646-v1x',
      'p/orders-2/2147483646-v1',
      'q/orders/2147483646-v1',
      'p/orders/x/2147483646-v1',
    ]) {
      expect(parseVersionKey('p/', 'orders', key), key).toBeUndefined();
    }
  });

  it('names encrypted data keys <id>:v<version>, and a prefix that no other id shares', () => {
    expect(edkKeyId('orders', 7)).toBe('orders:v7');
    expect(parseEdkKeyId('orders', 'orders:v7')).toBe(7);
    expect(edkKeyId('orders-2', 1).startsWith(edkKeyIdPrefix('orders'))).toBe(false);
    for (const keyId of ['orders:v', 'orders:v0', 'orders:v07', 'orders:v1 ', 'orders:v99999999999', 'orders-2:v1', `orders:v${MAX_VERSION + 1}`]) {
      expect(parseEdkKeyId('orders', keyId), keyId).toBeUndefined();
    }
  });
});
