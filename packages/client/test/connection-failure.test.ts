import { describe, expect, it } from 'vitest';
import { connectionFailureCode } from '../src/keyrings/connection-failure.js';

describe('connectionFailureCode', () => {
  it('finds socket codes directly, in cause chains and in AggregateErrors', () => {
    expect(connectionFailureCode(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(connectionFailureCode(new Error('outer', { cause: Object.assign(new Error('inner'), { code: 'ETIMEDOUT' }) }))).toBe('ETIMEDOUT');
    expect(connectionFailureCode(new AggregateError([new Error('a'), Object.assign(new Error('b'), { code: 'EHOSTUNREACH' })]))).toBe('EHOSTUNREACH');
  });

  it('is undefined for service errors and non-errors', () => {
    expect(connectionFailureCode(Object.assign(new Error('denied'), { code: 'AccessDenied' }))).toBeUndefined();
    expect(connectionFailureCode('ECONNREFUSED')).toBeUndefined();
    expect(connectionFailureCode(undefined)).toBeUndefined();
  });
});
