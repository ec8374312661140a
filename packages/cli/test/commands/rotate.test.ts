import { describe, expect, it } from 'vitest';
import { CliError, ExitCode } from '../../src/exit-codes.js';
import { duration } from '../../src/commands/rotate.js';

describe('duration (--older-than)', () => {
  it('reads a whole number and one unit of s, m, h, d or w as milliseconds', () => {
    expect(duration('45s')).toBe(45_000);
    expect(duration('90m')).toBe(90 * 60_000);
    expect(duration('12h')).toBe(12 * 3_600_000);
    expect(duration('30d')).toBe(30 * 86_400_000);
    expect(duration('2w')).toBe(14 * 86_400_000);
    expect(duration('0s')).toBe(0);
    expect(duration('007d')).toBe(7 * 86_400_000);
  });

  it('refuses anything else as a usage error naming the units', () => {
    for (const text of ['', '30', 'd', '30D', '30M', '1.5h', '-1d', '+1d', '30 d', ' 30d', '30d ', '30dd', '1d12h', '30y', '1e3s', '30ms']) {
      let caught: unknown;
      try {
        duration(text);
      } catch (error) {
        caught = error;
      }
      expect(caught, JSON.stringify(text)).toBeInstanceOf(CliError);
      expect((caught as CliError).exitCode).toBe(ExitCode.Usage);
      expect((caught as CliError).message).toMatch(/s, m, h, d or w/);
    }
  });
});
