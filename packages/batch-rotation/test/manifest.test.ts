import { describe, expect, it } from 'vitest';
import { objectsFromCsvManifest } from '../src/manifest.js';

describe('objectsFromCsvManifest', () => {
  it('decodes URL-encoded keys ("+" is a space) and keeps version ids', () => {
    expect(objectsFromCsvManifest('b,reports/2026%20Q1+final.csv\nb,logs/a.json,v123\n')).toEqual([
      { bucket: 'b', key: 'reports/2026 Q1 final.csv' },
      { bucket: 'b', key: 'logs/a.json', versionId: 'v123' },
    ]);
  });

  it('refuses a row whose key is not valid URL encoding, naming the row', () => {
    expect(() => objectsFromCsvManifest('b,ok\nb,%E0%A4%A')).toThrow(/row 2/);
  });
});
