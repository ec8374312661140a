import { describe, expect, it } from 'vitest';
import { localPathFor } from '../src/local-paths.js';

describe('localPathFor', () => {
  it('maps a key under the prefix to a path under the folder', () => {
    expect(localPathFor('/dl', 'reports/', 'reports/2026/q1.csv')).toBe('/dl/2026/q1.csv');
  });

  it('refuses keys that would leave the folder or name no file (a hostile store chooses keys)', () => {
    for (const key of ['reports/../../etc/passwd', 'reports/..', 'reports/./x', 'reports//x', 'reports/', 'reports/a\0b', 'reports//etc/passwd']) {
      expect(() => localPathFor('/dl', 'reports/', key), JSON.stringify(key)).toThrow(/cannot be a local file name safely/);
    }
  });

  it('escapes control characters of the key in its message', () => {
    expect(() => localPathFor('/dl', '', 'a/../\u001b[2Jb')).toThrow(/\\u\{1b\}\[2Jb/);
  });
});
