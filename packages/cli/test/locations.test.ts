import { describe, expect, it } from 'vitest';
import { CliError, ExitCode } from '../src/exit-codes.js';
import { parseLocation, parseObjectLocation, parsePrefixLocation, s3Url } from '../src/locations.js';

function usageErrorOf(run: () => unknown, label: string): CliError {
  try {
    run();
  } catch (error) {
    expect(error, label).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode, label).toBe(ExitCode.Usage);
    return error as CliError;
  }
  throw new Error(`expected a usage error for ${label}`);
}

describe('parseLocation', () => {
  it('reads s3://BUCKET, s3://BUCKET/, s3://BUCKET/KEY and s3://BUCKET/PREFIX/', () => {
    expect(parseLocation('s3://bucket')).toEqual({ kind: 's3', bucket: 'bucket', key: '' });
    expect(parseLocation('s3://bucket/')).toEqual({ kind: 's3', bucket: 'bucket', key: '' });
    expect(parseLocation('s3://bucket/report.csv')).toEqual({ kind: 's3', bucket: 'bucket', key: 'report.csv' });
    expect(parseLocation('s3://bucket/reports/2026/')).toEqual({ kind: 's3', bucket: 'bucket', key: 'reports/2026/' });
  });

  it('keeps the key exactly as given: slashes, spaces, Unicode, a leading slash', () => {
    for (const key of ['a/b/c.txt', 'with space', 'ünïcødé/ключ', '/leading', 'a//b', 'trailing.', '?x=1#y']) {
      expect(parseLocation(`s3://bucket/${key}`)).toEqual({ kind: 's3', bucket: 'bucket', key });
    }
  });

  it('takes the scheme in any case', () => {
    expect(parseLocation('S3://bucket/k')).toEqual({ kind: 's3', bucket: 'bucket', key: 'k' });
  });

  it('accepts the bucket names S3-compatible stores use: dots, hyphens, underscores, legacy upper case', () => {
    for (const bucket of ['my-bucket', 'my.bucket.example', 'minio_bucket', 'LegacyBucket', '123', 'a'.repeat(63)]) {
      expect(parseLocation(`s3://${bucket}/k`), bucket).toEqual({ kind: 's3', bucket, key: 'k' });
    }
  });

  it('refuses what cannot be a bucket, quoting the argument', () => {
    for (const text of ['s3://', 's3:///key', 's3://b', 's3://-bucket/k', 's3://.bucket/k', 's3://_bucket/k', 's3://buc ket/k', 's3://bucket\u0000/k', 's3://bück/k', 's3://a:b@host/k', `s3://${'a'.repeat(256)}/k`]) {
      expect(usageErrorOf(() => parseLocation(text), text).message).toContain(JSON.stringify(text));
    }
  });

  it("reads '-' as a pipe", () => {
    expect(parseLocation('-')).toEqual({ kind: 'pipe' });
  });

  it('takes everything else as a local path, unchanged', () => {
    for (const path of ['report.csv', './report.csv', '/tmp/out', '../up', '--', '-x', 's3:/bucket/key', 's3', 'dir/s3://x', '~/key']) {
      expect(parseLocation(path), path).toEqual({ kind: 'local', path });
    }
  });
});

describe('parseObjectLocation', () => {
  it('returns the bucket and key of s3://BUCKET/KEY', () => {
    expect(parseObjectLocation('s3://bucket/a/b.txt', 'the source')).toEqual({ kind: 's3', bucket: 'bucket', key: 'a/b.txt' });
  });

  it('refuses a bucket, a prefix, a local path or a pipe, naming the argument', () => {
    for (const text of ['s3://bucket', 's3://bucket/', 's3://bucket/prefix/', 'local.txt', '-']) {
      const error = usageErrorOf(() => parseObjectLocation(text, 'the source'), text);
      expect(error.message).toMatch(/^the source must be an object, s3:\/\/BUCKET\/KEY/);
      expect(error.message).toContain(JSON.stringify(text));
    }
  });

  it('still refuses a bad bucket', () => {
    expect(usageErrorOf(() => parseObjectLocation('s3://-x/k', 'the source'), 's3://-x/k').message).toMatch(/does not name a bucket/);
  });
});

describe('parsePrefixLocation', () => {
  it('returns a bucket (key "") or a prefix', () => {
    expect(parsePrefixLocation('s3://bucket', 'the location')).toEqual({ kind: 's3', bucket: 'bucket', key: '' });
    expect(parsePrefixLocation('s3://bucket/logs/', 'the location')).toEqual({ kind: 's3', bucket: 'bucket', key: 'logs/' });
    // A prefix need not end at a slash: s3://bucket/logs/2026- selects keys that start with it.
    expect(parsePrefixLocation('s3://bucket/logs/2026-', 'the location')).toEqual({ kind: 's3', bucket: 'bucket', key: 'logs/2026-' });
  });

  it('refuses a local path or a pipe, naming the argument', () => {
    for (const text of ['logs/', '-']) {
      const error = usageErrorOf(() => parsePrefixLocation(text, 'the location'), text);
      expect(error.message).toMatch(/^the location must be s3:\/\/BUCKET\[\/PREFIX\]/);
    }
  });
});

describe('s3Url', () => {
  it('is the inverse of parseLocation', () => {
    for (const [bucket, key] of [['b1', 'k'], ['bucket', 'a/b/'], ['bucket', '']]) {
      expect(parseLocation(s3Url(bucket as string, key as string))).toEqual({ kind: 's3', bucket, key });
    }
  });
});
