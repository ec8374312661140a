import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { operationName } from '../src/client/operation.js';

describe('operationName', () => {
  it('names real commands', () => {
    expect(operationName(new PutObjectCommand({ Bucket: 'b', Key: 'k' }))).toBe('PutObject');
    expect(operationName(new ListObjectsV2Command({ Bucket: 'b' }))).toBe('ListObjectsV2');
  });

  it('sees through class names a minifier changed', () => {
    const e = class extends GetObjectCommand {};
    expect(e.name).toBe('e');
    expect(operationName(new e({ Bucket: 'b', Key: 'k' }))).toBe('GetObject');
  });

  it('reads the schema of a command from another copy of the SDK', () => {
    const foreign = { input: {}, schema: [9, 'com.amazonaws.s3', 'PutObject'], constructor: { name: 't' } };
    expect(operationName(foreign)).toBe('PutObject');
  });

  it('falls back to the class name', () => {
    expect(operationName({ constructor: { name: 'HeadObjectCommand' } })).toBe('HeadObject');
  });
});
