import { describe, expect, it } from 'vitest';
import { CliError, ExitCode } from '../../src/exit-codes.js';
import { byteRange } from '../../src/commands/get.js';

describe('byteRange (--range of `s3crypt cat`)', () => {
  it('turns FIRST-LAST, FIRST- and -SUFFIX into an HTTP Range header', () => {
    expect(byteRange('0-99')).toBe('bytes=0-99');
    expect(byteRange('5-5')).toBe('bytes=5-5');
    expect(byteRange('100-')).toBe('bytes=100-');
    expect(byteRange('-500')).toBe('bytes=-500');
    expect(byteRange('0-')).toBe('bytes=0-');
    expect(byteRange('9007199254740991-9007199254740993')).toBe('bytes=9007199254740991-9007199254740993');
  });

  it('refuses anything else, and a LAST before FIRST, as a usage error', () => {
    const bad = ['', '-', '5', 'a-b', '1-2-3', '1-2,4-5', ' 1-2', '1 - 2', 'bytes=0-1', '0x10-20', '1.5-2', '+1-2', '1--2', '5-4', '100-99',
      // Equal as JavaScript numbers, but LAST is before FIRST.
      '99999999999999999999-99999999999999999998', '9007199254740993-9007199254740992'];
    for (const text of bad) {
      let caught: unknown;
      try {
        byteRange(text);
      } catch (error) {
        caught = error;
      }
      expect(caught, JSON.stringify(text)).toBeInstanceOf(CliError);
      expect((caught as CliError).exitCode).toBe(ExitCode.Usage);
    }
  });
});
